using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Postgres;
using ApiGate.Storage.Secrets;
using Dapper;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// An admin write that waits on a row another connection holds locked is ended by the write's lock wait (or, when the
/// DSN's command timeout is shorter, by that) and reported as that wait — nothing written, try again — not as a server
/// that does not answer, and the store goes on working.
/// </summary>
public sealed class PostgresLockWaitTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Postgres)]
    public async Task UpdateEntitlement_RowHeldLockedPastTheCommandTimeout_BusyNamingTheLockNothingWrittenAndTheStoreStillWorks(string engine)
    {
        // Arrange: a store whose DSN gives statements 2 s (under the writes' 5 s lock wait)
        var created = await engines.CreateAsync(engine);
        await using var store = GatewayStores.Create(engine, created.Dsn + ";Command Timeout=2", new SecretProtector(null));

        // Act
        var (refused, after) = await UpdateWhileTheRowIsHeldAsync(created, store);

        // Assert: the wait named (a lock, or a server that stopped answering), not only "does not answer"; nothing was
        // written, and the store works once the lock is gone
        Assert.StartsWith("the PostgreSQL server at 127.0.0.1:", refused.Message, StringComparison.Ordinal);
        Assert.Contains("(APIGATE_DATABASE_DSN / --database) did not finish a statement within the command timeout (2 s, the DSN's Command Timeout): "
            + "a row or table it needed may be held locked by another connection (a long transaction, a migration), or the server stopped answering: ",
            refused.Message, StringComparison.Ordinal);
        Assert.Equal("later", after);
    }

    [Theory, EngineData(GatewayStores.Postgres)]
    public async Task UpdateEntitlement_RowHeldLockedPastTheWriteLockWait_BusyNamingTheLockAndItsWaitNothingWrittenAndTheStoreStillWorks(string engine)
    {
        // Arrange: a store whose writes wait 1 s for a lock (the DSN's command timeout stays 30 s)
        var created = await engines.CreateAsync(engine);
        await using var store = new PostgresGatewayStore(created.Dsn, new SecretProtector(null)) { WriteLockTimeout = TimeSpan.FromSeconds(1) };

        // Act
        var (refused, after) = await UpdateWhileTheRowIsHeldAsync(created, store);

        // Assert: the lock and the wait named, the server's reason kept; nothing was written, and the store works once
        // the lock is gone
        Assert.StartsWith("PostgreSQL at 127.0.0.1:", refused.Message, StringComparison.Ordinal);
        Assert.EndsWith("(APIGATE_DATABASE_DSN / --database): a row or table this write needed stayed locked by another connection for 1 s "
            + "(a long transaction, a migration, an operator's session): canceling statement due to lock timeout (55P03); nothing was written: try again",
            refused.Message, StringComparison.Ordinal);
        Assert.Equal("later", after);
    }

    /// <summary>
    /// Creates an entitlement, changes it through <paramref name="store"/> while another connection holds its row locked
    /// (the refusal), then again once the lock is gone; returns the refusal and the description stored at the end.
    /// </summary>
    private static async Task<(StoreBusyException Refused, string? After)> UpdateWhileTheRowIsHeldAsync(EngineStore created, IGatewayStore store)
    {
        Assert.True((await new EntitlementService(created.Store, TimeProvider.System).CreateAsync(new EntitlementChanges { Name = "tier", ValueType = EntitlementValueType.String }, None)).Ok);
        await store.InitializeAsync(None);
        var tier = (await store.FindEntitlementAsync("tier", None))!;
        await using var other = await created.OpenRawAsync();
        await using var held = await other.BeginTransactionAsync();
        await other.ExecuteAsync("SELECT id FROM entitlements WHERE id = @Id FOR UPDATE", new { tier.Id }, transaction: held);

        var refused = await Assert.ThrowsAsync<StoreBusyException>(() => store.UpdateEntitlementAsync(tier with { Description = "changed", UpdatedAt = tier.UpdatedAt.AddSeconds(1) }, tier.UpdatedAt, "header_name", None));
        await held.RollbackAsync();
        var after = await new EntitlementService(store, TimeProvider.System).UpdateAsync("tier", new EntitlementChanges { Description = "later" }, None);
        Assert.True(after.Ok, after.Error?.ToString());
        return (refused, (await store.FindEntitlementAsync("tier", None))!.Description);
    }
}
