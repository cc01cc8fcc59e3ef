using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;
using Npgsql;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// A change (an admin write, not only a usage batch) whose COMMIT reached PostgreSQL and whose answer was lost — a
/// restart, a failover, a network cut at that moment — is reported as what happened: stored, not "does not answer"
/// (which the caller took as failed and sent again, to be told the plan already exists). One whose COMMIT never
/// reached the server is reported as failed, and is not stored.
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

    /// <summary>A migrated store of its own, opened again through a proxy that can cut a COMMIT.</summary>
    private async Task<(ApiGate.Storage.Sql.SqlGatewayStore Store, CommitCuttingProxy Proxy)> ThroughProxyAsync()
    {
        var dsn = (await engines.CreateAsync(GatewayStores.Postgres)).Dsn;
        var settings = new NpgsqlConnectionStringBuilder(dsn);
        var proxy = CommitCuttingProxy.Start(settings.Port);
        settings.Port = proxy.Port;
        var store = GatewayStores.Create(GatewayStores.Postgres, settings.ConnectionString, new SecretProtector(null));
        await store.InitializeAsync(None);
        return (store, proxy);
    }
}
