using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using static ApiGate.Gateway.Tests.Storage.ConcurrentUpdateTests;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// A plan's value always fits its entitlement's type, also when the type is changed while a plan is given a value: of
/// the two writes the one that comes second sees the first and is refused, never both stored.
/// </summary>
public sealed class ConcurrentEntitlementTypeTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreatePlanEntitlement_TypeChangedMeanwhile_ConflictAndNoValueStored(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var entitlements = new EntitlementService(store, TimeProvider.System);
        Assert.True((await entitlements.CreateAsync(new EntitlementChanges { Name = "tier", ValueType = EntitlementValueType.String }, None)).Ok);
        var assignments = new PlanEntitlementService(InterferingStore.Wrap(store, "CreatePlanEntitlementAsync", async _ =>
            Assert.True((await entitlements.UpdateAsync("tier", new EntitlementChanges { ValueType = EntitlementValueType.Number, DefaultValue = "1" }, None)).Ok)),
            TimeProvider.System);

        // Act
        var result = await assignments.CreateAsync(new PlanEntitlementInput { Plan = "free", Entitlement = "tier", Value = "gold" }, None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "value"), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal("'gold' is not a number (entitlement 'tier' is number; its type was changed at the same time)", result.Error!.Message);
        Assert.Empty(await store.ListPlanEntitlementsAsync("free", None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdateEntitlementType_ValueGivenMeanwhile_ConflictAndTypeKept(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var assignments = new PlanEntitlementService(store, TimeProvider.System);
        Assert.True((await new EntitlementService(store, TimeProvider.System).CreateAsync(new EntitlementChanges { Name = "tier", ValueType = EntitlementValueType.String }, None)).Ok);
        var entitlements = new EntitlementService(InterferingStore.Wrap(store, "UpdateEntitlementAsync", async _ =>
            Assert.True((await assignments.CreateAsync(new PlanEntitlementInput { Plan = "free", Entitlement = "tier", Value = "gold" }, None)).Ok)),
            TimeProvider.System);

        // Act
        var result = await entitlements.UpdateAsync("tier", new EntitlementChanges { ValueType = EntitlementValueType.Number, DefaultValue = "1" }, None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "value_type"), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal("plan 'free' has value 'gold' is not a number; change or delete it first", result.Error!.Message);
        Assert.Equal(EntitlementValueType.String, (await store.FindEntitlementAsync("tier", None))!.ValueType);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdatePlanEntitlement_TypeChangedMeanwhile_ConflictAndTheOldValueKept(string engine)
    {
        // Arrange: a text value, and the type changed to number between the service's check and the store's write
        var store = (await engines.CreateAsync(engine)).Store;
        var entitlements = new EntitlementService(store, TimeProvider.System);
        Assert.True((await entitlements.CreateAsync(new EntitlementChanges { Name = "tier", ValueType = EntitlementValueType.String }, None)).Ok);
        var created = await new PlanEntitlementService(store, TimeProvider.System).CreateAsync(new PlanEntitlementInput { Plan = "free", Entitlement = "tier", Value = "7" }, None);
        var assignments = new PlanEntitlementService(InterferingStore.Wrap(store, "UpdatePlanEntitlementAsync", async _ =>
            Assert.True((await entitlements.UpdateAsync("tier", new EntitlementChanges { ValueType = EntitlementValueType.Number, DefaultValue = "1" }, None)).Ok)),
            TimeProvider.System);

        // Act
        var result = await assignments.UpdateAsync(created.Value!.Id, new PlanEntitlementInput { Value = "gold" }, None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "value"), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal("'gold' is not a number (entitlement 'tier' is number; its type was changed at the same time)", result.Error!.Message);
        Assert.Equal("7", Assert.Single(await store.ListPlanEntitlementsAsync("free", None)).Value);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdatePlanEntitlement_EnabledThenValue_EachChangesOnlyItsFieldOfTheSameAssignment(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        Assert.True((await new EntitlementService(store, TimeProvider.System).CreateAsync(new EntitlementChanges { Name = "seats", ValueType = EntitlementValueType.Number }, None)).Ok);
        var assignments = new PlanEntitlementService(store, TimeProvider.System);
        var created = (await assignments.CreateAsync(new PlanEntitlementInput { Plan = "free", Entitlement = "seats", Value = "5" }, None)).Value!;
        var version = await store.GetConfigVersionAsync(None);

        // Act
        var disabled = await assignments.UpdateAsync(created.Id, new PlanEntitlementInput { Enabled = false }, None);
        var revalued = await assignments.UpdateAsync(created.Id, new PlanEntitlementInput { Value = "12" }, None);

        // Assert: the value kept by the first, the flag by the second; each a config change the gateways reload
        Assert.Equal((created.Id, "5", false), (disabled.Value!.Id, disabled.Value.Value, disabled.Value.Enabled));
        Assert.Equal((created.Id, "12", false), (revalued.Value!.Id, revalued.Value.Value, revalued.Value.Enabled));
        var stored = Assert.Single(await store.ListPlanEntitlementsAsync("free", None));
        Assert.Equal(("12", false, created.CreatedAt), (stored.Value, stored.Enabled, stored.CreatedAt));
        Assert.True(await store.GetConfigVersionAsync(None) >= version + 2);
    }
}
