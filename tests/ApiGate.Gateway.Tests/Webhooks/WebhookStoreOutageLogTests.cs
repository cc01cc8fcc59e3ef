using System.Text.RegularExpressions;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Webhooks;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Webhooks;

/// <summary>
/// A PostgreSQL outage fails every round of the webhook worker, one a poll interval, on every instance: the worker says
/// so once per outage (as the config poll and the usage writer do) and once when the store is read again, not once a
/// second for as long as the database is away.
/// </summary>
public sealed class WebhookStoreOutageLogTests
{
    [PostgresFact]
    public async Task PostgresStoppedTwice_ManyFailedRounds_EachOutageLoggedOnceAndEachRecoveryOnce()
    {
        // Arrange: a server of its own (this test stops it), a worker that looks often
        await using var server = await PostgresServer.StartAsync();
        var dsn = await server.CreateDatabaseAsync();
        var log = new CapturedLog();
        await using var gateway = await TestGateway.StartAsync(o =>
        {
            o.DatabaseDriver = GatewayStores.Postgres;
            o.DatabaseDsn = dsn;
            o.WebhookPollInterval = TimeSpan.FromMilliseconds(100);
            log.TakeJsonFrom(o);
        });
        var worker = gateway.Service<WebhookDeliveryWorker>();

        // Act: two outages, each lasting several failed rounds, with the store read again between them and after
        await server.StopServerAsync();
        await Poll.UntilAsync(() => worker.FailedRounds >= 5);
        var duringFirst = await log.UpToMarkerAsync(gateway);
        await server.StartServerAsync();
        await Poll.UntilAsync(() => Count(log.Text, 9609) == 1, () => log.Text);
        var failedBeforeSecond = worker.FailedRounds;
        await server.StopServerAsync();
        await Poll.UntilAsync(() => worker.FailedRounds >= failedBeforeSecond + 5);
        var duringSecond = await log.UpToMarkerAsync(gateway);
        await server.StartServerAsync();
        await Poll.UntilAsync(() => Count(log.Text, 9609) == 2, () => log.Text);

        // Assert
        Assert.Equal(1, Count(duringFirst, 9603));
        Assert.Equal(0, Count(duringFirst, 9609));
        Assert.Equal(2, Count(duringSecond, 9603));
        Assert.Equal(1, Count(duringSecond, 9609));
        Assert.Contains("Webhook deliveries could not be read from the store (StoreBusyException: the PostgreSQL server at 127.0.0.1:", duringFirst,
            StringComparison.Ordinal);
        Assert.Contains("Webhook deliveries are read from the store again", log.Text, StringComparison.Ordinal);
    }

    private static int Count(string log, int eventId) => Regex.Count(log, $"\"EventId\":{eventId}\\b");
}
