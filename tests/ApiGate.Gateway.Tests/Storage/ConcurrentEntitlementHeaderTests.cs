using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using static ApiGate.Gateway.Tests.Storage.ConcurrentUpdateTests;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// No two entitlements are sent as one header, also when both are written at the same time: the one that commits second
/// sees the first inside its own write and is refused, as it would have been had it come second, never both stored
/// (the gateway would then send only one of them).
/// </summary>
public sealed class ConcurrentEntitlementHeaderTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const string Taken =
        "it would be sent as x_region, and entitlement 'region' is sent as X-Region (a backend reads header names ignoring case, and '_' as '-'): give one of them another header_name";

    private static readonly CancellationToken None = CancellationToken.None;

    private static EntitlementChanges Region(string name, string header) =>
        new() { Name = name, ValueType = EntitlementValueType.String, HeaderName = header };

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateEntitlement_AnotherSentAsTheSameHeaderCreatedBetweenTheCheckAndTheWrite_ConflictAndOnlyTheOtherStored(string engine)
    {
        // Arrange: 'region' (X-Region) created by another writer after this create checked the header names
        var store = (await engines.CreateAsync(engine)).Store;
        var entitlements = new EntitlementService(store, TimeProvider.System);
        var racing = new EntitlementService(InterferingStore.Wrap(store, "CreateEntitlementAsync", async _ =>
            Assert.True((await entitlements.CreateAsync(Region("region", "X-Region"), None)).Ok)), TimeProvider.System);

        // Act
        var result = await racing.CreateAsync(Region("zone", "x_region"), None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "header_name"), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal(Taken, result.Error!.Message);
        Assert.Equal(["region"], (await store.ListEntitlementsAsync(None)).Select(e => e.Name));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdateEntitlement_AnotherGivenTheSameHeaderBetweenTheCheckAndTheWrite_ConflictAndTheHeaderKept(string engine)
    {
        // Arrange: 'zone' and 'region' with headers of their own; 'region' moved to X-Region after this update checked
        var store = (await engines.CreateAsync(engine)).Store;
        var entitlements = new EntitlementService(store, TimeProvider.System);
        Assert.True((await entitlements.CreateAsync(Region("zone", "X-Zone"), None)).Ok);
        Assert.True((await entitlements.CreateAsync(Region("region", "X-Area"), None)).Ok);
        var racing = new EntitlementService(InterferingStore.Wrap(store, "UpdateEntitlementAsync", async calls =>
        {
            if (calls == 1)
            {
                Assert.True((await entitlements.UpdateAsync("region", new EntitlementChanges { HeaderName = "X-Region" }, None)).Ok);
            }
        }), TimeProvider.System);

        // Act
        var result = await racing.UpdateAsync("zone", new EntitlementChanges { HeaderName = "x_region" }, None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "header_name"), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal(Taken, result.Error!.Message);
        Assert.Equal("X-Zone", (await store.FindEntitlementAsync("zone", None))!.HeaderName);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdateEntitlement_HeaderNameClearedWhileAnotherTakesTheDerivedHeader_ConflictPointsAtHeaderNameTheOnlyFieldSent(string engine)
    {
        // Arrange: 'region' sent as X-Zone; clearing that sends it as X-Entitlement-Region, which 'area' takes after this update checked
        var store = (await engines.CreateAsync(engine)).Store;
        var entitlements = new EntitlementService(store, TimeProvider.System);
        Assert.True((await entitlements.CreateAsync(Region("region", "X-Zone"), None)).Ok);
        Assert.True((await entitlements.CreateAsync(Region("area", "X-Area"), None)).Ok);
        var racing = new EntitlementService(InterferingStore.Wrap(store, "UpdateEntitlementAsync", async calls =>
        {
            if (calls == 1)
            {
                Assert.True((await entitlements.UpdateAsync("area", new EntitlementChanges { HeaderName = "X-Entitlement-Region" }, None)).Ok);
            }
        }), TimeProvider.System);

        // Act
        var result = await racing.UpdateAsync("region", new EntitlementChanges { HeaderName = "" }, None);

        // Assert: the input has no name to point at; the check before the write answers header_name for the same clash
        Assert.Equal((ManagementErrorKind.Conflict, "header_name"), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal(
            "it would be sent as X-Entitlement-Region, and entitlement 'area' is sent as X-Entitlement-Region (a backend reads header names ignoring case, and '_' as '-'): give one of them another header_name",
            result.Error!.Message);
        Assert.Equal("X-Zone", (await store.FindEntitlementAsync("region", None))!.HeaderName);
    }
}
