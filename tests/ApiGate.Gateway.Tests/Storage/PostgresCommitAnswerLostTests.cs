using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Postgres;
using ApiGate.Storage.Secrets;
using Npgsql;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// A change (an admin write, not only a usage batch) whose COMMIT reached PostgreSQL and whose answer was lost — a
/// restart, a failover, a network cut at that moment — is reported as what happened: stored, not "does not answer"
/// (which the caller took as failed and sent again, to be told the plan already exists). One whose COMMIT never
/// reached the server is reported as failed, and is not stored; one the server cannot be asked about for longer than a
/// limit is reported as unknown.
/// </summary>
public sealed class PostgresCommitAnswerLostTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [PostgresFact]
    public async Task CreatePlan_CommitAnswerLost_ReportedAsStoredAndStored()
    {
        // Arrange
        var (store, proxy) = await ThroughProxyAsync();
        await using var _ = store;
        await using var __ = proxy;
        proxy.CutNextCommitAfter("INSERT INTO plans", CommitCuttingProxy.CommitCut.AnswerLost);

        // Act
        await store.CreatePlanAsync(new PlanDefinition { Id = "pro", Name = "Pro" }, None);

        // Assert
        Assert.Equal(1, proxy.Cuts);
        Assert.Equal("Pro", (await store.FindPlanAsync("pro", None))?.Name);
    }

    [PostgresFact]
    public async Task CreatePlan_CommitNeverReachedTheServer_ReportedBusyAndNotStored()
    {
        // Arrange
        var (store, proxy) = await ThroughProxyAsync();
        await using var _ = store;
        await using var __ = proxy;
        proxy.CutNextCommitAfter("INSERT INTO plans", CommitCuttingProxy.CommitCut.NeverSent);

        // Act
        var failure = await Assert.ThrowsAsync<StoreBusyException>(() => store.CreatePlanAsync(new PlanDefinition { Id = "pro", Name = "Pro" }, None));

        // Assert: the transaction the server kept open was ended (its backend terminated), not left holding its locks
        Assert.Equal(1, proxy.Cuts);
        Assert.Contains("does not answer", failure.Message, StringComparison.Ordinal);
        Assert.Null(await store.FindPlanAsync("pro", None));
    }

    [PostgresFact]
    public async Task CreatePlan_CommitAnswerLostAndTheServerGoneForLonger_ReportedAsUnknownWithinTheLimit()
    {
        // Arrange: the server commits, its answer is lost, and it cannot be reached again to ask (a long failover)
        var direct = await engines.CreateAsync(GatewayStores.Postgres);
        var (store, proxy) = await ThroughProxyAsync(direct.Dsn, TimeSpan.FromSeconds(1));
        await using var _ = store;
        await using var __ = proxy;
        proxy.CutNextCommitAfter("INSERT INTO plans", CommitCuttingProxy.CommitCut.AnswerLostServerGone);

        // Act
        var failure = await Assert.ThrowsAsync<StoreUnavailableException>(() => store.CreatePlanAsync(new PlanDefinition { Id = "pro", Name = "Pro" }, None));

        // Assert: not a plain "does not answer" (which reads as not stored, and is sent again) but the truth, after the
        // limit rather than never; and it was in fact stored
        Assert.Equal(1, proxy.Cuts);
        Assert.IsNotType<StoreBusyException>(failure);
        Assert.Contains("may or may not be stored", failure.Message, StringComparison.Ordinal);
        Assert.Contains("within 1 s", failure.Message, StringComparison.Ordinal);
        Assert.Equal("Pro", (await direct.Store.FindPlanAsync("pro", None))?.Name);
    }

    private async Task<(ApiGate.Storage.Sql.SqlGatewayStore Store, CommitCuttingProxy Proxy)> ThroughProxyAsync() =>
        await ThroughProxyAsync((await engines.CreateAsync(GatewayStores.Postgres)).Dsn, null);

    /// <summary>A migrated store, opened again through a proxy that can cut a COMMIT.</summary>
    private static async Task<(ApiGate.Storage.Sql.SqlGatewayStore Store, CommitCuttingProxy Proxy)> ThroughProxyAsync(string dsn, TimeSpan? confirmLimit)
    {
        var settings = new NpgsqlConnectionStringBuilder(dsn);
        var proxy = CommitCuttingProxy.Start(settings.Port);
        settings.Port = proxy.Port;
        var store = confirmLimit is { } limit
            ? new PostgresGatewayStore(settings.ConnectionString, new SecretProtector(null)) { CommitConfirmLimit = limit }
            : GatewayStores.Create(GatewayStores.Postgres, settings.ConnectionString, new SecretProtector(null));
        await store.InitializeAsync(None);
        return (store, proxy);
    }
}
