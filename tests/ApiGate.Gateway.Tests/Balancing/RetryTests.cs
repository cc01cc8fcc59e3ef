using System.Net;
using System.Net.WebSockets;
using System.Text;
using ApiGate.Core.Management;

namespace ApiGate.Gateway.Tests.Balancing;

/// <summary>Which failed requests are repeated on another target, counted by what each backend received.</summary>
public sealed class RetryTests : BalancingTestBase
{
    // Passive ejection off, so every request meets the same failing targets.
    private static readonly UpstreamInput NoEjection = new() { HealthCheck = new HealthCheckInput { PassiveFailures = 0 } };

    [Fact]
    public async Task ResetBeforeResponse_Get_RetriedOnceOnAnotherTarget()
    {
        await CreateAsync("reset-get", "round_robin", NoEjection);

        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/reset-get/reset");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("upstream_error", await response.Content.ReadAsStringAsync());
        var received = Served();
        Assert.Equal(2, received.Sum()); // the first try and exactly one retry
        Assert.Equal(2, received.Count(n => n == 1)); // on two different targets
    }

    [Fact]
    public async Task ResetBeforeResponse_Post_NeverRetried()
    {
        await CreateAsync("reset-post", "round_robin", NoEjection);

        using var response = await Gateway.Client.PostAsync(Gateway.Url + "/reset-post/reset", new StringContent("", Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(1, Served().Sum());
    }

    [Fact]
    public async Task ResetBeforeResponse_PutWithBody_NotRetriedBecauseTheBodyWasSent()
    {
        await CreateAsync("reset-put", "round_robin", NoEjection);

        using var response = await Gateway.Client.PutAsync(Gateway.Url + "/reset-put/reset", new StringContent(new string('x', 10_000), Encoding.UTF8, "text/plain"));

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(1, Served().Sum());
    }

    [Fact]
    public async Task ConnectionRefused_PostWithBody_RetriedOnNextTargetAndBodyArrivesWhole()
    {
        await CreateAsync("refused", "first_healthy", NoEjection);
        await StopAsync(0);

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            using var response = await Gateway.Client.PostAsync(Gateway.Url + "/refused/echo-body", new StringContent("payload-" + i, Encoding.UTF8, "text/plain"));
            statuses.Add(response.StatusCode);
            Assert.Contains("payload-" + i, await response.Content.ReadAsStringAsync());
            Assert.Single(response.Headers.GetValues("X-Request-ID")); // the failed attempt left nothing behind
        }

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(5, Backend(1).Received.Count(r => r.Method == "POST"));
        Assert.Equal(0, Backend(2).Served);
    }

    [Fact]
    public async Task ConnectionRefused_WebSocketHandshake_RetriedAndTunnelWorks()
    {
        await CreateAsync("sockets", "first_healthy", NoEjection);
        await Gateway.AddRouteAsync(new RouteInput { Name = "sockets-ws", Path = "/ws-lb/*", Upstream = "sockets", Protocol = "websocket" });
        await StopAsync(0);

        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(Gateway.Url.Replace("http://", "ws://") + "/ws-lb/ws"), CancellationToken.None);
        await socket.SendAsync(Encoding.UTF8.GetBytes("ping"), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        var buffer = new byte[64];
        var result = await socket.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);

        Assert.Equal("ping", Encoding.UTF8.GetString(buffer, 0, result.Count));
        Assert.Single(Backend(1).Received, r => r.Path == "/ws-lb/ws");
    }

    [Fact]
    public async Task TwoTargetsRefuse_OnlyOneRetry_ThenUpstreamError()
    {
        await CreateAsync("two-dead", "first_healthy", NoEjection);
        await StopAsync(0);
        await StopAsync(1);

        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/two-dead/x");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(0, Backend(2).Served);
    }

    [Fact]
    public async Task Upstream5xx_PassedThroughAndNotRetried()
    {
        await CreateAsync("five", "round_robin", NoEjection);

        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/five/status?code=503");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("upstream says 503", await response.Content.ReadAsStringAsync());
        Assert.Equal(1, Served().Sum());
    }
}
