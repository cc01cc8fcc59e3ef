using System.Net;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Core.Quotas;
using ApiGate.Gateway.Limits;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Usage;

namespace ApiGate.Gateway.Tests.Limits;

/// <summary>
/// The quota lease settles exactly once on every path: committed with the metered units when the request reached a
/// backend (success, upstream error, timeout, retry, client abort mid-stream), released when it reached none; and the
/// stored quota always equals the stored usage.
/// </summary>
public sealed class LeaseSettlementTests : GatewayTestBase
{
    private string _key = "";
    private string _userId = "";

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url, new UpstreamInput { Timeout = "2s" });
        await Gateway.AddUpstreamAsync("off", Upstream.Url, new UpstreamInput { Enabled = false });
        await Gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "stream", Path = "/stream/*", Upstream = "backend", AuthRequired = true, Protocol = "http_stream" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "bytes", Path = "/bytes/*", Upstream = "backend", AuthRequired = true, MeteringMode = "bytes" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "broken", Path = "/broken/*", Upstream = "backend", AuthRequired = true, PathRewrite = "'/x/' + pathParams.nothing.here" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "off", Path = "/off/*", Upstream = "off", AuthRequired = true }, reload: false);
        var closed = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0); // a port nobody listens on once stopped
        closed.Start();
        var deadPort = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        await Gateway.AddUpstreamAsync("dead", $"http://127.0.0.1:{deadPort}");
        await Gateway.AddRouteAsync(new RouteInput { Name = "dead", Path = "/dead/*", Upstream = "dead", AuthRequired = true }, reload: false);
        var created = await Gateway.CreateKeyAsync("lease@example.com", new PlanInput { Id = "lease", Name = "Lease", RequestsPerMonth = 1_000_000, RateLimitPerMinute = 0 });
        (_key, _userId) = (created.Key, created.User.Id);
    }

    private long Used => Gateway.Service<QuotaCounters>().Used(_userId);

    private async Task<HttpStatusCode> SendAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + path);
        request.Headers.Add("X-API-Key", _key);
        using var response = await Gateway.Client.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        return response.StatusCode;
    }

    /// <summary>Waits until <paramref name="events"/> usage events are stored, then checks stored quota == in-memory == the sum of units.</summary>
    private async Task AssertStoredAsync(long events, long units)
    {
        var recorder = Gateway.Service<UsageRecorder>();
        for (var i = 0; i < 400 && recorder.Written < events; i++)
        {
            await Task.Delay(25);
        }

        Assert.Equal(events, recorder.Written);
        var stored = (await Gateway.Store.LoadQuotaUsageAsync(QuotaPeriod.StartOf(DateTimeOffset.UtcNow), CancellationToken.None))
            .Where(u => u.UserId == _userId).Sum(u => u.Used);
        Assert.Equal(units, stored);
        Assert.Equal(units, Used);
    }

    [Fact]
    public async Task Success_CommitsOneUnit()
    {
        Assert.Equal(HttpStatusCode.OK, await SendAsync("/api/x"));

        await AssertStoredAsync(events: 1, units: 1);
    }

    [Fact]
    public async Task UpstreamResetsConnection_ReachedABackend_CommitsOneUnit()
    {
        Assert.Equal(HttpStatusCode.BadGateway, await SendAsync("/api/reset"));

        await AssertStoredAsync(events: 1, units: 1);
    }

    [Fact]
    public async Task UpstreamTimesOut_CommitsOneUnit()
    {
        Assert.Equal(HttpStatusCode.GatewayTimeout, await SendAsync("/api/slow-headers?ms=5000"));

        await AssertStoredAsync(events: 1, units: 1);
    }

    [Fact]
    public async Task Retried_OnAnotherTarget_CommitsOneUnitNotTwo()
    {
        // Arrange: the first target refuses connections, the second answers.
        var closed = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var deadPort = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        var created = await Gateway.Upstreams.CreateAsync(new UpstreamInput
        {
            Name = "pair",
            LbPolicy = "first_healthy",
            Targets = [new TargetInput { Url = $"http://127.0.0.1:{deadPort}" }, new TargetInput { Url = Upstream.Url }],
        }.Parsed(), CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        await Gateway.AddRouteAsync(new RouteInput { Name = "pair", Path = "/pair/*", Upstream = "pair", AuthRequired = true });

        // Act
        var status = await SendAsync("/pair/x");

        // Assert
        Assert.Equal(HttpStatusCode.OK, status);
        await AssertStoredAsync(events: 1, units: 1);
    }

    [Fact]
    public async Task ClientAbortsMidStream_CommitsOnce()
    {
        // Arrange
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/stream/trickle?chunks=200&interval=20");
        request.Headers.Add("X-API-Key", _key);

        // Act: read the first chunk, then hang up.
        using (var response = await Gateway.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[16];
            Assert.True(await body.ReadAsync(buffer) > 0);
        }

        // Assert
        await AssertStoredAsync(events: 1, units: 1);
    }

    [Fact]
    public async Task ClientGoesAwayBeforeTheAnswer_CommitsOnceRecordedAs499()
    {
        // Arrange
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/api/slow-headers?ms=1500");
        request.Headers.Add("X-API-Key", _key);
        using var giveUp = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        // Act
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Gateway.Client.SendAsync(request, giveUp.Token));

        // Assert: the backend had the request, so it is billed — with the status of a client that left, not a 400.
        await AssertStoredAsync(events: 1, units: 1);
        var recorded = Assert.Single(await Gateway.Store.GetRecentUsageAsync(_userId, 10, CancellationToken.None));
        Assert.Equal(499, recorded.Status);
    }

    [Fact]
    public async Task MeteredByBytes_CommitsTheMeasuredUnits()
    {
        // Act
        using var request = new HttpRequestMessage(HttpMethod.Post, Gateway.Url + "/bytes/x") { Content = new ByteArrayContent(Encoding.ASCII.GetBytes(new string('a', 2048))) };
        request.Headers.Add("X-API-Key", _key);
        using var response = await Gateway.Client.SendAsync(request);
        var responseBytes = (await response.Content.ReadAsByteArrayAsync()).Length;

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var recorder = Gateway.Service<UsageRecorder>();
        for (var i = 0; i < 400 && recorder.Written < 1; i++)
        {
            await Task.Delay(25);
        }

        var expected = (2048 + responseBytes + 1023) / 1024; // bytes mode: kibibytes started, both ways
        Assert.Equal(3, expected);
        await AssertStoredAsync(events: 1, units: expected);
    }

    [Theory]
    [InlineData("/broken/x", HttpStatusCode.InternalServerError)]
    [InlineData("/off/x", HttpStatusCode.ServiceUnavailable)]
    [InlineData("/dead/x", HttpStatusCode.BadGateway)] // the connection was refused: no backend saw it
    public async Task RefusedAfterAdmission_BeforeAnyBackend_ReleasesTheUnit(string path, HttpStatusCode expected)
    {
        // Arrange: one billed request first, so a wrong release would show as 0.
        Assert.Equal(HttpStatusCode.OK, await SendAsync("/api/x"));

        // Act
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + path);
        request.Headers.Add("X-API-Key", _key);
        using var response = await Gateway.Client.SendAsync(request);

        // Assert: the refusal's headers already show the unit given back, and only the first request is stored.
        Assert.Equal(expected, response.StatusCode);
        Assert.Equal("1", response.Headers.GetValues("X-Quota-Used").Single());
        await AssertStoredAsync(events: 1, units: 1);
    }

    [Fact]
    public async Task ManyConcurrentRequests_EachSettlesOnce()
    {
        // Act: successes, upstream errors and pre-backend refusals interleaved.
        var paths = Enumerable.Range(0, 60).Select(i => (i % 3) switch { 0 => "/api/x", 1 => "/api/reset", _ => "/off/x" }).ToArray();
        var statuses = await Task.WhenAll(paths.Select(SendAsync));

        // Assert
        Assert.Equal(20, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(20, statuses.Count(s => s == HttpStatusCode.BadGateway));
        Assert.Equal(20, statuses.Count(s => s == HttpStatusCode.ServiceUnavailable));
        await AssertStoredAsync(events: 40, units: 40);
    }
}
