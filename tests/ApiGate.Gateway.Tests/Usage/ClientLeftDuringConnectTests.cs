using System.Net;
using System.Net.Sockets;
using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using static ApiGate.Gateway.Tests.Observability.AccessLogTests;

namespace ApiGate.Gateway.Tests.Usage;

/// <summary>
/// docs/usage.md: a request no backend saw is neither billed nor recorded. One whose client went away while the gateway
/// was still making the connection to the upstream (a TLS handshake the upstream never answers, so the connect takes up
/// to its 5 s bound) was billed 1 unit and recorded as 499, as if the backend had had it: a caller whose client gives up
/// sooner than the connect timeout paid for every request while an upstream hung. On an <c>http</c> route (the HTTP
/// client's connection pool) and an <c>sse</c> route (the gateway's own streaming client).
/// </summary>
public sealed class ClientLeftDuringConnectTests : GatewayTestBase, IDisposable
{
    private readonly CapturedLog _log = new();
    private TcpListener _silent = null!;

    private protected override void Configure(GatewayOptions options)
    {
        _log.TakeJsonFrom(options);
        options.UsageRawEvents = "all"; // public routes' requests recorded too
    }

    private protected override async Task SetUpAsync()
    {
        // Listens, and never says a word: a TCP connect succeeds, the TLS handshake waits for an answer that never comes.
        _silent = new TcpListener(IPAddress.Loopback, 0);
        _silent.Start();
        var port = ((IPEndPoint)_silent.LocalEndpoint).Port;
        await Gateway.AddUpstreamAsync("silent", $"https://127.0.0.1:{port}", new UpstreamInput { Timeout = "60s" });
    }

    [Theory]
    [InlineData("http")]
    [InlineData("sse")]
    public async Task ClientGivesUpWhileTheConnectionIsBeingMade_RecordedAs499InTheAccessLog_NotBilledNorRecordedAsUsage(string protocol)
    {
        // Arrange
        var (key, user, _) = await Gateway.CreateKeyAsync($"connect-{protocol}@example.com");
        await Gateway.AddRouteAsync(new RouteInput { Name = protocol, Path = $"/{protocol}/*", Upstream = "silent", AuthRequired = true, Protocol = protocol });
        var requestId = $"connect-left-{protocol}";

        // Act: the client gives up once the gateway's connection to the upstream is open and its handshake waits, long
        // before the connect's bound (not after a fixed time: on a busy machine the request might not have reached the
        // gateway yet, and no exchange would be logged at all)
        using (var cancel = new CancellationTokenSource())
        using (var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + $"/{protocol}/x"))
        {
            request.Headers.Add("X-API-Key", key);
            request.Headers.Add("X-Request-ID", requestId);
            var sending = Gateway.Client.SendAsync(request, cancel.Token);
            await Poll.UntilAsync(() => _silent.Pending(), () => "the gateway never connected to the upstream");
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sending);
        }

        await Poll.UntilAsync(() => Line(requestId) is not null, () => "no access line yet:\n" + _log.Text);
        var targets = Gateway.Service<TargetRegistry>().Statuses().ToList();
        var counters = Gateway.Service<ApiGate.Gateway.Limits.QuotaCounters>();
        await Gateway.StopAsync();

        // Assert: the exchange ended by the client leaving (499; the connect's own end would be a 502 against the
        // target), the unit given back, no usage row, and nothing held against the target
        Assert.Equal(499, Line(requestId)!.Value.GetProperty("Status").GetInt32());
        Assert.Equal(0, counters.Used(user.Id));
        Assert.Empty(await EventsAsync(user.Id));
        Assert.All(targets, t => Assert.Equal(0, t.FailuresTotal));
    }

    [Fact]
    public async Task PublicRequestWhoseTransformLeavesNoHeader_ClientLeavesAfterTheUpstreamGotIt_RecordedAs499()
    {
        // Arrange: a public route whose transform removes every header the gateway adds, so the request's head carries
        // none and its writing asks the HTTP client's header encoding selector nothing; the upstream holds its answer
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "bare", Path = "/bare/*", Upstream = "backend", AuthRequired = false,
            RequestTransform = """{"headers":{"remove":["X-Forwarded-For","X-Forwarded-Proto","X-Forwarded-Host","X-Request-ID"]}}""",
        });
        Upstream.RequestHeld = new TaskCompletionSource().Task;

        // Act: the client leaves once the upstream has the request
        using (var cancel = new CancellationTokenSource())
        using (var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/bare/held"))
        {
            request.Headers.Add("X-Request-ID", "bare-left");
            var sending = Gateway.Client.SendAsync(request, cancel.Token);
            await Poll.UntilAsync(() => Upstream.Served == 1);
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sending);
        }

        await Poll.UntilAsync(() => Line("bare-left") is not null, () => "no access line yet:\n" + _log.Text);
        await Gateway.StopAsync();

        // Assert: the upstream had it, and it is recorded (it was dropped as never written)
        Assert.Equal(499, Line("bare-left")!.Value.GetProperty("Status").GetInt32());
        var recorded = Assert.Single(await EventsAsync(UsageEvent.Anonymous));
        Assert.Equal(("/bare/held", 499), (recorded.Path, recorded.Status));
        Assert.Equal(["Host"], Assert.Single(Upstream.Received).Headers.Keys);
    }

    public void Dispose() => _silent.Stop();

    private System.Text.Json.JsonElement? Line(string requestId) =>
        AccessLines(_log.Text).Where(a => a.GetProperty("RequestId").GetString() == requestId).Select(a => (System.Text.Json.JsonElement?)a).FirstOrDefault();

    private async Task<IReadOnlyList<UsageEvent>> EventsAsync(string userId)
    {
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(Gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        return await store.GetRecentUsageAsync(userId, 10, CancellationToken.None);
    }
}
