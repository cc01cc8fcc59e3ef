using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Dapper;
using static ApiGate.Gateway.Tests.Storage.ConcurrentEntitlementCapTests;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// A write PostgreSQL rolls back against another one (a deadlock) is reported as what it is — nothing written, try
/// again — not as a server that does not answer, and the store goes on working on its pooled connections.
/// </summary>
public sealed class PostgresDeadlockTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Postgres)]
    public async Task UpdateEntitlement_DeadlockedWithAnotherTransaction_BusyNamingTheRollbackNothingWrittenAndTheStoreStillWorks(string engine)
    {
        // Arrange: another transaction holds the config version's row, so the store's update of entitlement "tier"
        // waits there holding tier's row; that transaction then asks for tier's row. Its own deadlock check is put off
        // (10 s), so the store's session (1 s, the default) finds the deadlock and is the one rolled back.
        var created = await engines.CreateAsync(engine);
        var store = created.Store;
        Assert.True((await new EntitlementService(store, TimeProvider.System).CreateAsync(new EntitlementChanges { Name = "tier", ValueType = EntitlementValueType.String }, None)).Ok);
        var tier = (await store.FindEntitlementAsync("tier", None))!;
        await using var other = await created.OpenRawAsync();
        await other.ExecuteAsync("SET deadlock_timeout = '10s'");
        await using var held = await other.BeginTransactionAsync();
        await other.ExecuteAsync("UPDATE config_version SET version = version + 1 WHERE id = 1", transaction: held);
        await using var watcher = await created.OpenRawAsync();

        // Act
        var updating = Task.Run(() => store.UpdateEntitlementAsync(tier with { Description = "changed", UpdatedAt = tier.UpdatedAt.AddSeconds(1) }, tier.UpdatedAt, "header_name", None));
        await WaitForLockWaitsAsync(watcher, 1, updating);
        var taking = other.ExecuteAsync("UPDATE entitlements SET description = 'other' WHERE id = @Id", new { tier.Id }, transaction: held);
        var refused = await Assert.ThrowsAsync<StoreBusyException>(() => updating);
        await taking;
        await held.RollbackAsync();
        var after = await new EntitlementService(store, TimeProvider.System).UpdateAsync("tier", new EntitlementChanges { Description = "later" }, None);

        // Assert
        Assert.StartsWith("PostgreSQL at 127.0.0.1:", refused.Message, StringComparison.Ordinal);
        Assert.EndsWith(
            "(APIGATE_DATABASE_DSN / --database) rolled the write back against another one at the same moment: deadlock detected (40P01); nothing was written: try again",
            refused.Message, StringComparison.Ordinal);
        Assert.True(after.Ok, after.Error?.ToString());
        Assert.Equal("later", (await store.FindEntitlementAsync("tier", None))!.Description);
    }
}
