using System.Globalization;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using Dapper;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using static ApiGate.Gateway.Tests.Storage.ConcurrentUpdateTests;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// The cap on what a plan's entitlements add to every request (64 headers, 16 KiB) holds when changes are made at the
/// same time: two that each fit alone but not together are not both stored, whichever engine, and a plan's value
/// deleted (its entitlement's default sent instead) is measured too.
/// </summary>
public sealed class ConcurrentEntitlementCapTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const string TooMany = "65 entitlements would be sent as headers on every request; at most 64 are allowed per plan: disable or delete one first";

    private static readonly CancellationToken None = CancellationToken.None;

    private static EntitlementChanges Flag(int i) =>
        new() { Name = string.Create(CultureInfo.InvariantCulture, $"flag_{i:00}"), ValueType = EntitlementValueType.Boolean };

    private static async Task CreateFlagsAsync(EntitlementService entitlements, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var created = await entitlements.CreateAsync(Flag(i), None);
            Assert.True(created.Ok, created.Error?.ToString());
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateEntitlement_The64thCreatedBetweenTheCheckAndTheWrite_ConflictAndOnly64Stored(string engine)
    {
        // Arrange: 63 entitlements; the 64th created by another writer after this one checked the cap
        var store = (await engines.CreateAsync(engine)).Store;
        var entitlements = new EntitlementService(store, TimeProvider.System);
        await CreateFlagsAsync(entitlements, 63);
        var racing = new EntitlementService(InterferingStore.Wrap(store, "CreateEntitlementAsync", async _ =>
            Assert.True((await entitlements.CreateAsync(Flag(63), None)).Ok)), TimeProvider.System);

        // Act
        var result = await racing.CreateAsync(Flag(64), None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "name"), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal(TooMany, result.Error!.Message);
        Assert.Equal(64, (await store.ListEntitlementsAsync(None)).Count);
        Assert.Null(await store.FindEntitlementAsync("flag_64", None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreatePlanEntitlement_AnotherLongValueGivenBetweenTheCheckAndTheWrite_ConflictAndOnlyTheFirstStored(string engine)
    {
        // Arrange: plan free sends X-Entitlement-A with 8,192 characters (8,207 bytes); values for b and c of 8,147
        // characters (8,162 bytes each) fit one at a time (16,369), not both (24,531)
        var store = (await engines.CreateAsync(engine)).Store;
        var entitlements = new EntitlementService(store, TimeProvider.System);
        foreach (var name in new[] { "a", "b", "c" })
        {
            Assert.True((await entitlements.CreateAsync(new EntitlementChanges { Name = name, ValueType = EntitlementValueType.String }, None)).Ok);
        }

        var assignments = new PlanEntitlementService(store, TimeProvider.System);
        Assert.True((await assignments.CreateAsync(new PlanEntitlementInput { Plan = "free", Entitlement = "a", Value = new string('x', 8192) }, None)).Ok);
        var racing = new PlanEntitlementService(InterferingStore.Wrap(store, "CreatePlanEntitlementAsync", async _ =>
            Assert.True((await assignments.CreateAsync(new PlanEntitlementInput { Plan = "free", Entitlement = "c", Value = new string('z', 8147) }, None)).Ok)),
            TimeProvider.System);

        // Act
        var result = await racing.CreateAsync(new PlanEntitlementInput { Plan = "free", Entitlement = "b", Value = new string('y', 8147) }, None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "value"), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal("plan 'free' would send 24531 bytes of entitlement headers (names and values); at most 16384 are allowed per plan", result.Error!.Message);
        var stored = await store.ListPlanEntitlementsAsync("free", None);
        Assert.Equal([8147, 8192], stored.Select(v => v.Value.Length).Order());
        Assert.DoesNotContain(stored, v => v.Value.StartsWith('y'));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateEntitlement_TenAtOnceWith60Stored_ExactlyFourStoredTheOthersRefusedNamingTheCap(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var entitlements = new EntitlementService(store, TimeProvider.System);
        await CreateFlagsAsync(entitlements, 60);

        // Act: ten writers, each with its own service, all started before any is awaited
        var results = await Task.WhenAll(Enumerable.Range(60, 10)
            .Select(i => Task.Run(() => new EntitlementService(store, TimeProvider.System).CreateAsync(Flag(i), None))));

        // Assert: refused before the write (validation) or by the store when another committed first (conflict)
        Assert.Equal(4, results.Count(r => r.Ok));
        Assert.All(results.Where(r => !r.Ok), r =>
        {
            Assert.Contains(r.Error!.Kind, new[] { ManagementErrorKind.Validation, ManagementErrorKind.Conflict });
            Assert.Equal(("name", TooMany), (r.Error.Field, r.Error.Message));
        });
        Assert.Equal(64, (await store.ListEntitlementsAsync(None)).Count);
    }

    [Theory, EngineData(GatewayStores.Postgres)]
    public async Task UpdateEntitlement_OneEnabledWhileAnotherIsDisabledOnAPlanAboveTheCap_TheEnableMeasuresTheDisableAndIsRefused(string engine)
    {
        // Arrange: 70 enabled entitlements (as stored before the cap) and a disabled spare; the config version's row held
        // by another transaction, so a write that gets as far as its version bump waits there, written but not committed
        var created = await engines.CreateAsync(engine);
        var store = created.Store;
        var entitlements = new EntitlementService(store, TimeProvider.System);
        await CreateFlagsAsync(entitlements, 64);
        for (var i = 64; i < 70; i++)
        {
            Assert.True((await entitlements.CreateAsync(Flag(i) with { Enabled = false }, None)).Ok);
        }

        Assert.True((await entitlements.CreateAsync(new EntitlementChanges { Name = "spare", ValueType = EntitlementValueType.Boolean, Enabled = false }, None)).Ok);
        await using var holder = await created.OpenRawAsync();
        Assert.Equal(6, await holder.ExecuteAsync("UPDATE entitlements SET enabled = TRUE WHERE name LIKE 'flag%' AND NOT enabled"));
        await using var held = await holder.BeginTransactionAsync();
        await holder.ExecuteAsync("SELECT version FROM config_version WHERE id = 1 FOR UPDATE", transaction: held);
        await using var watcher = await created.OpenRawAsync();
        async Task SetEnabledAsync(string name, bool enabled)
        {
            var stored = (await store.FindEntitlementAsync(name, None))!;
            await store.UpdateEntitlementAsync(stored with { Enabled = enabled, UpdatedAt = stored.UpdatedAt.AddSeconds(1) }, stored.UpdatedAt, "header_name", None);
        }

        // Act: flag_00 disabled (70 → 69) and, while that waits uncommitted, the spare enabled; then the row is let go
        var disabling = Task.Run(() => SetEnabledAsync("flag_00", false));
        await WaitForLockWaitsAsync(watcher, 1, disabling);
        var enabling = Task.Run(() => SetEnabledAsync("spare", true));
        await WaitForLockWaitsAsync(watcher, 2, enabling);
        await held.RollbackAsync();
        await disabling;
        var refused = await Assert.ThrowsAsync<StoreConflictException>(() => enabling);

        // Assert: the enable measured 69 before it (the disable committed), not the 70 it would have read beside it,
        // so it grows the plan above the cap and is refused
        Assert.Equal("70 entitlements would be sent as headers on every request; at most 64 are allowed per plan: disable or delete one first", refused.Message);
        Assert.False((await store.FindEntitlementAsync("spare", None))!.Enabled);
        Assert.Equal(69, (await store.ListEntitlementsAsync(None)).Count(e => e.Enabled));
    }

    /// <summary>Waits until <paramref name="count"/> sessions of the test's database wait for a lock.</summary>
    internal static async Task WaitForLockWaitsAsync(System.Data.Common.DbConnection watcher, int count, Task writing)
    {
        for (var i = 0; i < 400 && !writing.IsCompleted; i++)
        {
            if (await watcher.ExecuteScalarAsync<long>(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") >= count)
            {
                return;
            }

            await Task.Delay(25);
        }

        Assert.Fail(writing.IsCompleted ? $"the write finished without waiting: {writing.Status}" : $"fewer than {count} writes ever waited");
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task DeletePlanEntitlement_TheDefaultSentInsteadTakesThePlanPastTheCap_ConflictAndTheValueKept(string engine)
    {
        // Arrange: a with a default of 8,192 characters, b with none; plan free's values "v" for a and 8,192 characters
        // for b (8,223 bytes with the header names): without its value for a, free would send a's default, 16,414 bytes
        var store = (await engines.CreateAsync(engine)).Store;
        var entitlements = new EntitlementService(store, TimeProvider.System);
        Assert.True((await entitlements.CreateAsync(new EntitlementChanges { Name = "a", ValueType = EntitlementValueType.String, DefaultValue = new string('d', 8192) }, None)).Ok);
        Assert.True((await entitlements.CreateAsync(new EntitlementChanges { Name = "b", ValueType = EntitlementValueType.String }, None)).Ok);
        var assignments = new PlanEntitlementService(store, TimeProvider.System);
        var a = (await assignments.CreateAsync(new PlanEntitlementInput { Plan = "free", Entitlement = "a", Value = "v" }, None)).Value!;
        Assert.True((await assignments.CreateAsync(new PlanEntitlementInput { Plan = "free", Entitlement = "b", Value = new string('y', 8192) }, None)).Ok);

        // Act
        var result = await assignments.DeleteAsync(a.Id, None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, ""), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal(
            "plan 'free' would send 16414 bytes of entitlement headers (names and values); at most 16384 are allowed per plan; " +
            "without this value the plan sends the entitlement's default: shorten the default first, or give the plan a shorter value",
            result.Error!.Message);
        Assert.Equal("v", (await store.FindPlanEntitlementAsync(a.Id, None))!.Value);
    }
}
