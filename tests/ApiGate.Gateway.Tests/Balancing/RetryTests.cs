using System.Net;
using System.Net.WebSockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Tests.Infrastructure;

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

    [Theory]
    [InlineData("dns")]
    [InlineData("tls")]
    public async Task ConnectionNeverEstablished_PostWithBody_RetriedOnNextTargetAndBodyArrivesWhole(string how)
    {
        // Arrange: the first target cannot be connected to — a name that never resolves (RFC 6761 .invalid), or a TLS
        // handshake with a server that speaks plain HTTP — so no request byte reaches it
        var first = how == "dns" ? "http://backend.invalid:8080" : Url(0).Replace("http://", "https://", StringComparison.Ordinal);
        await CreateAsync("never-connected-" + how, "first_healthy", NoEjection, [new TargetInput { Url = first }, new TargetInput { Url = Url(1) }]);

        // Act
        using var response = await Gateway.Client.PostAsync(Gateway.Url + $"/never-connected-{how}/echo-body", new StringContent("payload", Encoding.UTF8, "text/plain"));

        // Assert: the POST went to the next target, once, body and all
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("payload", await response.Content.ReadAsStringAsync());
        Assert.Single(Backend(1).Received, r => r.Method == "POST");
        Assert.Equal(0, Backend(0).Served);
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

    [Theory]
    [InlineData("route")]
    [InlineData("transform")]
    [InlineData("header")]
    public async Task ResetBeforeResponse_GetSentUpstreamAsPost_NeverRetried(string how)
    {
        // Arrange: the client's GET reaches the backend as a POST — the route's method_override, its request transform's,
        // or (on a route that admits every method) the client's own X-HTTP-Method-Override, which backends honour
        await CreateAsync("as-post", "round_robin", NoEjection);
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "as-post-" + how,
            Path = $"/as-post-{how}/*",
            Upstream = "as-post",
            PathRewrite = "/$1",
            MethodOverride = how == "route" ? "POST" : null,
            RequestTransform = how == "transform" ? """{"method_override":"POST"}""" : null,
        });
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + $"/as-post-{how}/reset");
        if (how == "header")
        {
            request.Headers.Add("X-HTTP-Method-Override", "POST");
        }

        // Act
        using var response = await Gateway.Client.SendAsync(request);

        // Assert: one backend saw it, once
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(1, Served().Sum());
    }

    [Fact]
    public async Task ResetBeforeResponse_GetWithIdempotentMethodOverrideHeader_StillRetried()
    {
        await CreateAsync("as-put", "round_robin", NoEjection);
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/as-put/reset");
        request.Headers.Add("X-HTTP-Method-Override", "PUT");

        using var response = await Gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(2, Served().Sum());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("POST")]
    public async Task ResetBeforeResponse_PostNamingGetInMethodOverrideHeader_NeverRetried(string? routeMethods)
    {
        // Arrange: a POST whose X-HTTP-Method-Override names GET. On a route that admits only some methods the gateway
        // removes the header, so the backend certainly runs the POST; on one that admits every method it passes, and a
        // backend that does not honour it runs the POST too
        await CreateAsync("post-as-get", "round_robin", NoEjection);
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "post-as-get-route",
            Path = "/post-as-get-route/*",
            Upstream = "post-as-get",
            PathRewrite = "/$1",
            Methods = routeMethods,
        });
        using var request = new HttpRequestMessage(HttpMethod.Post, Gateway.Url + "/post-as-get-route/reset");
        request.Headers.Add("X-HTTP-Method-Override", "GET");

        // Act
        using var response = await Gateway.Client.SendAsync(request);

        // Assert: the POST reached one backend, once
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(1, Served().Sum());
        Assert.Single(new[] { Backend(0), Backend(1), Backend(2) }.SelectMany(b => b.Received), r => r.Method == "POST");
    }

    [Fact]
    public async Task ClosedBeforeResponse_PutWhoseBodyHadNotArrivedYet_BodyReachesOneTargetWhole()
    {
        // Arrange: the first target reads the request head and closes; the client's body arrives only after that
        await using var closer = await ScriptedBackend.StartAsync("", thenClose: true);
        await CreateAsync("slow-put", "first_healthy", NoEjection, [new TargetInput { Url = closer.Url }, new TargetInput { Url = Url(1) }]);
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(System.Net.IPAddress.Loopback, new Uri(Gateway.Url).Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("PUT /slow-put/echo-body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n\r\n"));
        Assert.True(await EventuallyAsync(() => closer.Connections == 1, TimeSpan.FromSeconds(10)), "the first target was never tried");
        await Task.Delay(300);

        // Act
        await stream.WriteAsync(Encoding.ASCII.GetBytes("0123456789"));
        var answer = await ReadResponseAsync(stream).WaitAsync(TimeSpan.FromSeconds(20));

        // Assert: either the retry carried the whole body, or (the body having been taken by the first attempt) no retry
        if (answer.StartsWith("HTTP/1.1 200", StringComparison.Ordinal))
        {
            Assert.EndsWith("0123456789", answer);
            Assert.Single(Backend(1).Received, r => r.Method == "PUT");
        }
        else
        {
            Assert.StartsWith("HTTP/1.1 502", answer);
            Assert.Equal(0, Backend(1).Served);
        }
    }

    private static async Task<string> ReadResponseAsync(System.Net.Sockets.NetworkStream stream)
    {
        var buffer = new byte[8192];
        var text = "";
        while (true)
        {
            var read = await stream.ReadAsync(buffer);
            if (read == 0)
            {
                return text;
            }

            text += Encoding.ASCII.GetString(buffer, 0, read);
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var length = System.Text.RegularExpressions.Regex.Match(text, "Content-Length: (\\d+)", System.Text.RegularExpressions.RegexOptions.IgnoreCase);
                if (length.Success && text.Length - end - 4 >= int.Parse(length.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))
                {
                    return text;
                }
            }
        }
    }

    [Theory]
    [InlineData("POST", "")]
    [InlineData("PATCH", "")]
    [InlineData("GET", "X-HTTP-Method-Override: POST\r\n")]
    public async Task ClosedBeforeResponse_NonIdempotentWithoutBody_ReachesTheBackendOnce(string method, string headers)
    {
        // Arrange: one target that reads the request and closes the connection without answering (a FIN, not a reset)
        await using var backend = await ScriptedBackend.StartAsync("", thenClose: true);
        await CreateAsync("closing", "round_robin", NoEjection, [new TargetInput { Url = backend.Url }]);

        // Act: no body and no Content-Length, as curl -X POST sends it
        var response = await RawHttp.SendAsync(Gateway.Url, Encoding.ASCII.GetBytes(
            $"{method} /closing/orders/1/confirm HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n{headers}\r\n"));

        // Assert: sent once (the upstream client used to send it four times, on new connections, below the retry rules)
        Assert.Equal(502, response.Status);
        Assert.Equal(1, backend.Connections);
    }

    [Theory]
    [InlineData("HELLO THIS IS NOT HTTP\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-Big: {big}\r\n\r\n")]
    public async Task ResponseNotHttpOrHeadersTooLarge_Delete_NotRetriedBecauseTheTargetAnswered(string answer)
    {
        // Arrange: two targets that read the request and answer something the HTTP client refuses
        var raw = answer.Replace("{big}", new string('x', 200_000), StringComparison.Ordinal);
        await using var first = await ScriptedBackend.StartAsync(raw, thenClose: true);
        await using var second = await ScriptedBackend.StartAsync(raw, thenClose: true);
        await CreateAsync("answered", "round_robin", NoEjection, [new TargetInput { Url = first.Url }, new TargetInput { Url = second.Url }]);

        // Act
        using var request = new HttpRequestMessage(HttpMethod.Delete, Gateway.Url + "/answered/items/1");
        using var response = await Gateway.Client.SendAsync(request);

        // Assert: the DELETE reached one backend only
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal(1, first.Connections + second.Connections);
    }

    [Fact]
    public async Task BurstPastMaxConns_QueuedRequestsTimeOut_TargetsNotEjected()
    {
        // Arrange: two targets that answer in 0.4 s, a 1.5 s timeout, one connection per target, passive checks on
        // (2 failures eject): twelve requests at once mostly wait in the gateway's own pool, not on the targets
        await CreateAsync("capped", "round_robin", new UpstreamInput
        {
            Timeout = "1500ms",
            MaxConns = 1,
            HealthCheck = new HealthCheckInput { PassiveFailures = 2 },
        }, [new TargetInput { Url = Url(0) }, new TargetInput { Url = Url(1) }]);

        // Act
        var burst = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Gateway.Client.GetAsync(Gateway.Url + "/capped/slow-headers?ms=400&i=" + i)));
        using var after = await Gateway.Client.GetAsync(Gateway.Url + "/capped/json");

        // Assert: some of the burst timed out waiting (504), yet no target was ejected and the next request is served
        Assert.Contains(burst, r => r.StatusCode == HttpStatusCode.GatewayTimeout);
        Assert.All(States("capped"), s => Assert.Equal(TargetHealth.Healthy, s.Health));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        foreach (var response in burst)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task MaxConnsWithWebSocketsOpen_TargetTimesOutOnPlainRequests_Ejected()
    {
        // Arrange: one connection per target, a 1 s timeout, two failures eject; a WebSocket to the target stays open (an
        // upgraded connection leaves the pool, so it takes none of the max_conns)
        await CreateAsync("tunnels", "round_robin", new UpstreamInput
        {
            Timeout = "1s",
            MaxConns = 1,
            HealthCheck = new HealthCheckInput { PassiveFailures = 2 },
        }, [new TargetInput { Url = Url(0) }]);
        await Gateway.AddRouteAsync(new RouteInput { Name = "tunnels-ws", Path = "/tunnels-ws/*", Upstream = "tunnels", Protocol = "websocket" });
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(Gateway.Url.Replace("http://", "ws://") + "/tunnels-ws/ws"), CancellationToken.None);

        // Act: the target stops answering in time, one request after the other (none waits for a connection)
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await Gateway.Client.GetAsync(Gateway.Url + "/tunnels/slow-headers?ms=3000&i=" + i);
            statuses.Add(response.StatusCode);
        }

        // Assert: two timeouts eject it, so the third is answered 503 at once; the open WebSocket used to make every
        // request look queued behind max_conns, so no timeout counted and the target stayed in service
        Assert.Equal([HttpStatusCode.GatewayTimeout, HttpStatusCode.GatewayTimeout, HttpStatusCode.ServiceUnavailable], statuses);
        Assert.Equal(TargetHealth.Ejected, Assert.Single(States("tunnels")).Health);
        Assert.Equal(WebSocketState.Open, socket.State);
    }
}
