using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using static ApiGate.Gateway.Tests.Storage.ConcurrentUpdateTests;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// A write that refers to a row deleted after the service found it (a route to its upstream, a user to their plan, a
/// key to its user) is refused as a conflict on the field that named the row, saying which kind of row is gone, so the
/// admin API points at the member and the caller knows what to check; nothing is written.
/// </summary>
public sealed class ConcurrentReferenceDeleteTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateRoute_ItsUpstreamDeletedBetweenTheLookupAndTheWrite_ConflictOnUpstreamAndNoRoute(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var upstreams = new UpstreamService(store, TimeProvider.System);
        Assert.True((await upstreams.CreateAsync(new UpstreamChanges { Name = "users-api", Url = new Uri("http://127.0.0.1:1") }, None)).Ok);
        var routes = new RouteService(InterferingStore.WrapGateway(store, "CreateRouteAsync", async _ =>
            Assert.True((await upstreams.DeleteAsync("users-api", None)).Ok)), TimeProvider.System);

        // Act
        var result = await routes.CreateAsync(new RouteChanges { Name = "users", Path = "/users/*", Upstream = "users-api" }, None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "upstream"), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal("the upstream this change refers to was deleted at the same time; check it exists and try again", result.Error!.Message);
        Assert.Null(await store.FindRouteAsync("users", None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdateUser_TheNewPlanDeletedBetweenTheLookupAndTheWrite_ConflictOnPlanAndThePlanKept(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var plans = new PlanService(store, TimeProvider.System);
        Assert.True((await plans.CreateAsync(new PlanInput { Name = "pro" }, None)).Ok);
        var other = new UserService(store, TimeProvider.System);
        Assert.True((await other.CreateAsync(new UserChanges { Email = "ada@example.com", Plan = "free" }, None)).Ok);
        var users = new UserService(InterferingStore.Wrap(store, "UpdateUserAsync", async _ =>
            Assert.True((await plans.DeleteAsync("pro", None)).Ok)), TimeProvider.System);

        // Act
        var result = await users.UpdateAsync("ada@example.com", new UserChanges { Plan = "pro" }, None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "plan"), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal("the plan this change refers to was deleted at the same time; check it exists and try again", result.Error!.Message);
        Assert.Equal("free", (await store.FindUserAsync("ada@example.com", None))!.PlanId);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateKey_ItsUserDeletedBetweenTheLookupAndTheWrite_ConflictOnUserAndNoKey(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var other = new UserService(store, TimeProvider.System);
        var ada = (await other.CreateAsync(new UserChanges { Email = "ada@example.com", Plan = "free" }, None)).Value!;
        var keys = new KeyService(InterferingStore.Wrap(store, "CreateKeyAsync", async _ =>
            Assert.True((await other.DeleteAsync("ada@example.com", None)).Ok)), TimeProvider.System);

        // Act
        var result = await keys.CreateAsync(new KeyChanges { User = "ada@example.com" }, None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "user"), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal("the user this change refers to was deleted at the same time; check it exists and try again", result.Error!.Message);
        Assert.Empty(await store.ListKeysAsync(ada.Id, None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreatePlanEntitlement_ItsEntitlementDeletedBetweenTheLookupAndTheWrite_ConflictOnEntitlementAndNoValue(string engine)
    {
        // Arrange: a plan's value refers to two rows, so the store cannot say which is gone; the service looks
        var store = (await engines.CreateAsync(engine)).Store;
        var entitlements = new EntitlementService(store, TimeProvider.System);
        Assert.True((await entitlements.CreateAsync(new EntitlementChanges { Name = "seats", ValueType = EntitlementValueType.Number }, None)).Ok);
        var values = new PlanEntitlementService(InterferingStore.Wrap(store, "CreatePlanEntitlementAsync", async _ =>
            Assert.True((await entitlements.DeleteAsync("seats", None)).Ok)), TimeProvider.System);

        // Act
        var result = await values.CreateAsync(new PlanEntitlementInput { Plan = "free", Entitlement = "seats", Value = "5" }, None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "entitlement_id"), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal("the entitlement this change refers to was deleted at the same time; check it exists and try again", result.Error!.Message);
        Assert.Empty(await store.ListPlanEntitlementsAsync("free", None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task LinkIdentity_TheUserDeletedBetweenTheLookupAndTheWrite_ConflictSayingTheUserIsGoneOnNoField(string engine)
    {
        // Arrange: the user is named by the path, not by a field of the body, so the conflict points at no member
        var store = (await engines.CreateAsync(engine)).Store;
        var other = new UserService(store, TimeProvider.System);
        Assert.True((await other.CreateAsync(new UserChanges { Email = "ada@example.com", Plan = "free" }, None)).Ok);
        var users = new UserService(InterferingStore.Wrap(store, "LinkIdentityAsync", async _ =>
            Assert.True((await other.DeleteAsync("ada@example.com", None)).Ok)), TimeProvider.System);

        // Act
        var result = await users.LinkIdentityAsync("ada@example.com", new IdentityLink("https://issuer.example", "sub-1"), None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, ""), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal("the user this change refers to was deleted at the same time; check it exists and try again", result.Error!.Message);
        Assert.Null(await store.FindUserByIdentityAsync("https://issuer.example", "sub-1", None));
    }
}
