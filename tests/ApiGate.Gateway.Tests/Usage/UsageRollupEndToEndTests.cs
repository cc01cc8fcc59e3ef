using System.Net;
using System.Net.WebSockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sql;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Usage;

/// <summary>
/// Issue 18: rollups written by a real gateway equal its raw events; a graceful restart mid-minute loses nothing. Each
/// on both engines: the gateway on its SQLite file, and on PostgreSQL (<c>APIGATE_DATABASE_DRIVER=postgres</c>).
/// </summary>
public sealed class UsageRollupEndToEndTests(StoreEngines engines) : IClassFixture<StoreEngines>, IAsyncLifetime
{
    private TestUpstream _upstream = null!;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));

    public async Task InitializeAsync() => _upstream = await TestUpstream.StartAsync();

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConcurrentTraffic_WithStreamsAndFailures_RollupsEqualTheRawEvents(string engine)
    {
        // Arrange
        var dsn = await DsnAsync(engine);
        await using var gateway = await TestGateway.StartAsync(o => UseStore(o, engine, dsn), directory: _directory);
        await gateway.AddUpstreamAsync("backend", _upstream.Url);
        var (key, user, _) = await gateway.CreateKeyAsync("busy@example.com", new PlanInput { Id = "big", Name = "Big", RequestsPerMonth = 1_000_000 });
        await gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true, MeteringMode = "bytes" }, reload: false);
        await gateway.AddRouteAsync(new RouteInput { Name = "events", Path = "/events/*", Upstream = "backend", AuthRequired = true, Protocol = "sse", MeteringMode = "custom", MeteringExpr = "sseEvents" }, reload: false);
        await gateway.AddRouteAsync(new RouteInput { Name = "socket", Path = "/socket/*", Upstream = "backend", AuthRequired = true, Protocol = "websocket", MeteringMode = "custom", MeteringExpr = "wsMessages" });
        _upstream.SecondEventGate.SetResult();

        // Act: 200 requests from 8 concurrent callers (every 5th fails upstream), plus SSE streams and WebSocket sessions
        var statuses = new List<HttpStatusCode>();
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async caller =>
        {
            for (var i = 0; i < 25; i++)
            {
                var path = i % 5 == 0 ? "/api/status?code=503" : "/api/download?bytes=" + (100 * i);
                using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + path);
                request.Headers.Add("X-API-Key", key);
                using var response = await gateway.Client.SendAsync(request);
                await response.Content.ReadAsByteArrayAsync();
                lock (statuses)
                {
                    statuses.Add(response.StatusCode);
                }
            }
        }).Concat(Enumerable.Range(0, 3).Select(async _ =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/events/sse");
            request.Headers.Add("X-API-Key", key);
            using var response = await gateway.Client.SendAsync(request);
            await response.Content.ReadAsStringAsync();
        })).Concat(Enumerable.Range(0, 2).Select(async _ =>
        {
            using var socket = new ClientWebSocket();
            socket.Options.SetRequestHeader("X-API-Key", key);
            await socket.ConnectAsync(new Uri(gateway.Url.Replace("http://", "ws://") + "/socket/ws"), CancellationToken.None);
            var buffer = new byte[256];
            for (var i = 0; i < 2; i++)
            {
                await socket.SendAsync(Encoding.UTF8.GetBytes("message " + i), WebSocketMessageType.Text, true, CancellationToken.None);
                await socket.ReceiveAsync(buffer, CancellationToken.None);
            }

            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        })));
        var recorder = gateway.Service<ApiGate.Gateway.Usage.UsageRecorder>();
        for (var i = 0; i < 100 && recorder.Written + recorder.QueueDepth < 205; i++)
        {
            await Task.Delay(50); // streams end a moment after the client sees them
        }

        await gateway.StopAsync();
        await using var store = await OpenStoreAsync(engine, dsn);
        var raw = await store.GetRecentUsageAsync(user.Id, 10_000, CancellationToken.None);
        // Each request once, whichever granularity holds it (the gateway's maintenance may have compacted an hour meanwhile)
        var rollups = await store.GetUserUsageRowsAsync(user.Id, DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddHours(1), CancellationToken.None);
        var quota = await store.LoadQuotaUsageAsync(Core.Quotas.QuotaPeriod.StartOf(DateTimeOffset.UtcNow), CancellationToken.None);

        // Assert
        Assert.Equal(40, statuses.Count(s => s == HttpStatusCode.ServiceUnavailable));
        Assert.Equal(205, raw.Count);
        Assert.Equal(raw.Count, rollups.Sum(r => r.Requests));
        Assert.Equal(raw.Sum(e => e.Units), rollups.Sum(r => r.Units));
        Assert.Equal(raw.Sum(e => e.RequestBytes), rollups.Sum(r => r.RequestBytes));
        Assert.Equal(raw.Sum(e => e.ResponseBytes), rollups.Sum(r => r.ResponseBytes));
        Assert.Equal(raw.Count(e => e.Status >= 500), rollups.Where(r => r.StatusClass == 5).Sum(r => r.Requests));
        Assert.Equal(raw.Count, rollups.Sum(r => r.LatencyBuckets.Sum()));
        Assert.Equal(6, raw.Where(e => e.Path.StartsWith("/events", StringComparison.Ordinal)).Sum(e => e.Units)); // 2 events per stream
        Assert.Equal(8, raw.Where(e => e.Path.StartsWith("/socket", StringComparison.Ordinal)).Sum(e => e.Units)); // 2 sent + 2 echoed
        Assert.Equal(raw.Sum(e => e.Units), Assert.Single(quota, q => q.UserId == user.Id).Used);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task GracefulRestart_MidMinute_LosesNothing(string engine)
    {
        // Arrange: a clock stopped in the middle of a minute, so both runs write into the same minute row
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 5, 10, 8, 30, 31, TimeSpan.Zero));
        var dsn = await DsnAsync(engine);
        var first = await TestGateway.StartAsync(o => UseStore(o, engine, dsn), directory: _directory, timeProvider: clock);
        await first.AddUpstreamAsync("backend", _upstream.Url);
        await first.AddRouteAsync(new RouteInput { Name = "plain", Path = "/plain/*", Upstream = "backend" });

        // Act
        await Task.WhenAll(Enumerable.Range(0, 120).Select(i => first.Client.GetAsync(first.Url + "/plain/" + i)));
        await first.StopAsync();
        var second = await TestGateway.StartAsync(o => UseStore(o, engine, dsn), directory: _directory, timeProvider: clock);
        await Task.WhenAll(Enumerable.Range(0, 80).Select(i => second.Client.GetAsync(second.Url + "/plain/again-" + i)));
        await second.StopAsync();
        await using var store = await OpenStoreAsync(engine, dsn);
        var minute = await store.GetGatewayUsageSeriesAsync(UsageGranularity.Minute, clock.GetUtcNow().AddMinutes(-1), clock.GetUtcNow().AddMinutes(1), CancellationToken.None);
        var raw = await store.GetRecentUsageAsync(UsageEvent.Anonymous, 1_000, CancellationToken.None);

        // Assert
        var row = Assert.Single(minute);
        Assert.Equal(new DateTimeOffset(2026, 5, 10, 8, 30, 0, TimeSpan.Zero), row.BucketStart);
        Assert.Equal(200, row.Requests);
        Assert.Equal(200, raw.Count);
    }

    /// <summary>SQLite: the gateway's own file in <see cref="_directory"/>; PostgreSQL: a fresh schema of the class's database.</summary>
    private async Task<string> DsnAsync(string engine) =>
        engine == GatewayStores.Sqlite ? Path.Combine(_directory, "apigate.db") : await engines.NewDsnAsync(engine);

    private static void UseStore(Configuration.GatewayOptions options, string engine, string dsn)
    {
        options.DatabaseDriver = engine;
        options.DatabaseDsn = dsn;
        options.UsageRawEvents = "all"; // raw rows for the public routes' requests too: the tests compare them with the rollups
    }

    private static async Task<SqlGatewayStore> OpenStoreAsync(string engine, string dsn)
    {
        var store = GatewayStores.Create(engine, dsn, new SecretProtector(null));
        await store.InitializeAsync(CancellationToken.None);
        return store;
    }
}
