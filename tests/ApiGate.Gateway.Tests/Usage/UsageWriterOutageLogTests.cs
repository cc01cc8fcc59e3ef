using System.Net;
using System.Text.RegularExpressions;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Usage;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Usage;

/// <summary>
/// A PostgreSQL restart under traffic is one outage for the usage writer: it says once that store writes are waiting
/// (event 4101) and once that they went through (4102), however many batches and pooled connections the restart broke.
/// </summary>
public sealed class UsageWriterOutageLogTests
{
    [PostgresFact]
    public async Task PostgresRestartedUnderTraffic_WaitLoggedOnceAndRecoveryOnce()
    {
        // Arrange: a server of its own (this test stops it), a key on a plan without a rate limit whose first events are written
        await using var server = await PostgresServer.StartAsync();
        var dsn = await server.CreateDatabaseAsync();
        var log = new CapturedLog();
        await using var upstream = await TestUpstream.StartAsync();
        await using var gateway = await TestGateway.StartAsync(o =>
        {
            o.DatabaseDriver = GatewayStores.Postgres;
            o.DatabaseDsn = dsn;
            log.TakeJsonFrom(o);
        });
        await gateway.AddUpstreamAsync("backend", upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "items", Path = "/items/*", Upstream = "backend", AuthRequired = true });
        var (key, _, _) = await gateway.CreateKeyAsync("restart@example.com", new PlanInput { Id = "unlimited", Name = "Unlimited" });
        var recorder = gateway.Service<UsageRecorder>();
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(HttpStatusCode.OK, await SendAsync(gateway, $"/items/warm-{i}", key));
        }

        await Poll.UntilAsync(() => recorder.Written == 10, () => $"written before the restart: {recorder.Written}");

        // Act: traffic all along (bounded: at most 400 requests), PostgreSQL stopped and started again while it runs, so a
        // batch may be in flight when the server goes away
        using var stop = new CancellationTokenSource();
        var traffic = Task.Run(async () =>
        {
            var count = 0;
            while (count < 400 && !stop.IsCancellationRequested)
            {
                Assert.Equal(HttpStatusCode.OK, await SendAsync(gateway, $"/items/{count}", key));
                count++;
                await Task.Delay(5);
            }

            return count;
        });
        await Poll.UntilAsync(() => recorder.Written >= 20, () => $"written before the stop: {recorder.Written}");
        await server.StopServerAsync();
        await Poll.UntilAsync(() => Count(log.Text, 4101) >= 1, () => log.Text);
        await server.StartServerAsync();
        await Poll.UntilAsync(() => Count(log.Text, 4102) >= 1, () => log.Text);
        await stop.CancelAsync();
        var sent = await traffic;
        await Poll.UntilAsync(() => recorder.Written == 10 + sent, () => $"written after the restart: {recorder.Written} of {10 + sent}");
        var text = await log.UpToMarkerAsync(gateway);

        // Assert
        Assert.Equal(0, recorder.Dropped);
        Assert.Equal(1, Count(text, 4101));
        Assert.Equal(1, Count(text, 4102));
    }

    private static int Count(string log, int eventId) => Regex.Count(log, $"\"EventId\":{eventId}\\b");

    private static async Task<HttpStatusCode> SendAsync(TestGateway gateway, string path, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + path);
        request.Headers.Add("X-API-Key", key);
        using var response = await gateway.Client.SendAsync(request);
        return response.StatusCode;
    }
}
