using System.Net;
using System.Security.Cryptography.X509Certificates;
using ApiGate.Core.Management;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Snapshots;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>
/// <c>http_version</c>: the HTTP version the gateway speaks to an upstream, against real loopback backends that listen
/// HTTP/2-only in cleartext (h2c) or over TLS with a certificate made in the test.
/// </summary>
public sealed class UpstreamHttpVersionTests
{
    [Fact]
    public async Task Http2Version_CleartextHttp2OnlyUpstream_UpstreamSeesHttp2()
    {
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http2);
        await using var gateway = await TestGateway.StartAsync();
        await AddRouteAsync(gateway, upstream.Url, "2");

        var responses = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await gateway.Client.PostAsync(gateway.Url + "/h2/echo?i=" + i, new StringContent("payload"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            responses.Add(await response.Content.ReadAsStringAsync());
        }

        Assert.All(responses, body => Assert.Equal("HTTP/2", body));
        Assert.Equal(3, upstream.Received.Count(r => r is { Path: "/h2/echo", Protocol: "HTTP/2" }));
    }

    [Fact]
    public async Task Http2Version_WebSocketRouteToCleartextHttp2OnlyUpstream_TunnelledOverExtendedConnectAndEchoed()
    {
        // Arrange: the client upgrades over HTTP/1.1; the gateway reaches the upstream with an HTTP/2 extended CONNECT.
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http2);
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", upstream.Url, new UpstreamInput { HttpVersion = "2" });
        await gateway.AddRouteAsync(new RouteInput { Name = "ws", Path = "/ws/*", Upstream = "backend", Protocol = "websocket" });
        using var socket = new System.Net.WebSockets.ClientWebSocket();

        // Act
        await socket.ConnectAsync(new Uri(gateway.Url.Replace("http://", "ws://", StringComparison.Ordinal) + "/ws/echo"), CancellationToken.None);
        var echoes = new List<string>();
        var buffer = new byte[256];
        for (var i = 0; i < 5; i++)
        {
            await socket.SendAsync(System.Text.Encoding.UTF8.GetBytes("message " + i), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None);
            var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
            echoes.Add(System.Text.Encoding.UTF8.GetString(buffer, 0, received.Count));
        }

        await socket.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);

        // Assert
        Assert.Equal(Enumerable.Range(0, 5).Select(i => "message " + i), echoes);
        Assert.Equal(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, socket.CloseStatus);
        Assert.Equal([("/ws/echo", "HTTP/2")], upstream.Received.ToArray());
    }

    [Fact]
    public async Task Http11Version_CleartextHttp2OnlyUpstream_UpstreamServersRefusalPassesThrough()
    {
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http2);
        await using var gateway = await TestGateway.StartAsync();
        await AddRouteAsync(gateway, upstream.Url, "1.1");

        using var response = await gateway.Client.GetAsync(gateway.Url + "/h2/echo");

        // Kestrel answers an HTTP/1.1 request on an HTTP/2-only port itself, with a 400, before any application code runs;
        // it is a valid HTTP/1.1 response, so the gateway passes it on (a server that just closes the connection gives 502).
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("An HTTP/1.x request was sent to an HTTP/2 only endpoint.", await response.Content.ReadAsStringAsync());
        Assert.Empty(upstream.Received);
    }

    [Fact]
    public async Task Http2Version_Http11OnlyUpstream_Returns502NotDowngraded()
    {
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http1);
        await using var gateway = await TestGateway.StartAsync();
        await AddRouteAsync(gateway, upstream.Url, "2");

        using var response = await gateway.Client.GetAsync(gateway.Url + "/h2/echo");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Empty(upstream.Received);
    }

    [Theory]
    [InlineData("2", "HTTP/2")]
    [InlineData("1.1", "HTTP/1.1")]
    public async Task TlsUpstream_TrustedCertificate_SpeaksTheChosenVersionByAlpn(string version, string expected)
    {
        using var certificate = TestCertificates.CreateLoopbackServer();
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http1AndHttp2, certificate);
        await using var gateway = await StartTrustingAsync(certificate);
        await AddRouteAsync(gateway, upstream.Url, version);

        using var response = await gateway.Client.GetAsync(gateway.Url + "/h2/echo");

        Assert.StartsWith("https://127.0.0.1:", upstream.Url);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task TlsUpstream_Http2OnlyOverTls_UpstreamSeesHttp2()
    {
        using var certificate = TestCertificates.CreateLoopbackServer();
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http2, certificate);
        await using var gateway = await StartTrustingAsync(certificate);
        await AddRouteAsync(gateway, upstream.Url, "2");

        using var response = await gateway.Client.GetAsync(gateway.Url + "/h2/echo");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("HTTP/2", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task TlsUpstream_CertificateNotTrustedBySystemRoots_Returns502()
    {
        using var certificate = TestCertificates.CreateLoopbackServer();
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http1AndHttp2, certificate);
        await using var gateway = await TestGateway.StartAsync(); // the default trust: system roots only
        await AddRouteAsync(gateway, upstream.Url, "2");

        using var response = await gateway.Client.GetAsync(gateway.Url + "/h2/echo");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Empty(upstream.Received);
    }

    [Fact]
    public async Task TlsUpstream_CertificateNotTrusted_LogLineAndEjectionReasonSayWhyWithoutTheCredential()
    {
        // Arrange: an upstream whose certificate no trusted root signed, with a credential the gateway sends it
        using var certificate = TestCertificates.CreateLoopbackServer();
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http1AndHttp2, certificate);
        var log = new CapturedLog();
        await using var gateway = await TestGateway.StartAsync(options => log.TakeJsonFrom(options));
        await gateway.AddUpstreamAsync("backend", upstream.Url, new UpstreamInput
        {
            AuthType = "bearer", AuthValue = "upstream-secret-7f3a", HealthCheck = new HealthCheckInput { PassiveFailures = 1 },
        });
        await gateway.AddRouteAsync(new RouteInput { Name = "tls", Path = "/tls/*", Upstream = "backend" });

        // Act
        using var response = await gateway.Client.GetAsync(gateway.Url + "/tls/echo");
        var body = await response.Content.ReadAsStringAsync();
        var written = await log.UpToMarkerAsync(gateway);

        // Assert: the answer is the usual one; the operator's log and the target's state name the reason (they said
        // only "The SSL connection could not be established, see inner exception.", with no inner exception shown)
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("\"code\":\"upstream_error\"", body, StringComparison.Ordinal);
        var state = Assert.Single(gateway.Service<TargetRegistry>().Statuses());
        Assert.Equal(TargetHealth.Ejected, state.Health);
        Assert.Contains("The SSL connection could not be established: The remote certificate is invalid", state.Reason, StringComparison.Ordinal);
        Assert.Contains("UntrustedRoot", state.Reason, StringComparison.Ordinal);
        var warning = Assert.Single(written.Split('\n'), line => line.Contains("\"EventId\":3001", StringComparison.Ordinal));
        Assert.Contains("UntrustedRoot", warning, StringComparison.Ordinal);
        Assert.DoesNotContain("see inner exception", written + state.Reason, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("upstream-secret-7f3a", written + body + state.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TlsUpstream_CertificateNotTrusted_FailedProbeSaysWhy()
    {
        using var certificate = TestCertificates.CreateLoopbackServer();
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http1AndHttp2, certificate);
        await using var gateway = await TestGateway.StartAsync();
        await AddRouteAsync(gateway, upstream.Url, "1.1", new HealthCheckInput { Path = "/healthz", Interval = "1s", UnhealthyThreshold = 1 });

        var unhealthy = await Poll.HoldsWithinAsync(
            () => gateway.Service<TargetRegistry>().Statuses() is [{ Health: TargetHealth.Unhealthy }], TimeSpan.FromSeconds(15));

        // The probe's reason was the bare "SecureConnectionError"
        Assert.True(unhealthy, "the probe never failed");
        var reason = Assert.Single(gateway.Service<TargetRegistry>().Statuses()).Reason;
        Assert.StartsWith("1 failed health checks, last: SecureConnectionError: The SSL connection could not be established: ", reason, StringComparison.Ordinal);
        Assert.Contains("UntrustedRoot", reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HealthProbe_Http2Version_ProbesOverHttp2AndTargetStaysIn()
    {
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http2);
        await using var gateway = await TestGateway.StartAsync();
        await AddRouteAsync(gateway, upstream.Url, "2", new HealthCheckInput { Path = "/healthz", Interval = "1s", UnhealthyThreshold = 1 });

        // Two probes (one second apart; the 30 s bound is only for a broken build); a failed probe would take the only
        // target out (503).
        await Poll.UntilAsync(() => upstream.Received.Count(r => r.Path == "/healthz") >= 2, () => "fewer than two probes arrived");

        using var response = await gateway.Client.GetAsync(gateway.Url + "/h2/echo");

        var probes = upstream.Received.Where(r => r.Path == "/healthz").ToList();
        Assert.True(probes.Count >= 2, $"{probes.Count} probes arrived");
        Assert.All(probes, p => Assert.Equal("HTTP/2", p.Protocol));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("2")]
    [InlineData("1.1")]
    public async Task HostileUpstreamHeadersAndTrailers_HttpTwoClient_HopByHopAndGatewayNamesStayBehind(string upstreamVersion)
    {
        // Arrange: a client speaking h2c to the gateway (trailers need HTTP/2 on the client's side)
        await using var upstream = await ProtocolUpstream.StartAsync(upstreamVersion == "2" ? HttpProtocols.Http2 : HttpProtocols.Http1);
        await using var gateway = await TestGateway.StartAsync(o => o.H2cPort = 0);
        await AddRouteAsync(gateway, upstream.Url, upstreamVersion);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Addresses.ElementAt(1) + "/h2" + ProtocolUpstream.HostilePath)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        // Act
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();

        // Assert: the upstream's own headers and trailer pass; Proxy-* and what the gateway answers with do not
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(upstreamVersion == "2" ? "HTTP/2" : "HTTP/1.1", body);
        Assert.Equal("header", response.Headers.GetValues("X-Kept").Single());
        Assert.False(response.Headers.Contains("Proxy-Foo"));
        var requestId = response.Headers.GetValues("X-Request-ID").Single();
        Assert.NotEqual("planted", requestId);
        var trailers = response.TrailingHeaders;
        if (upstreamVersion == "2")
        {
            Assert.Equal("trailer", trailers.GetValues("X-Kept-Trailer").Single());
        }

        Assert.False(trailers.Contains("Proxy-Foo"));
        Assert.False(trailers.Contains("Set-Cookie"));
        Assert.False(trailers.Contains("X-Request-ID"));
        Assert.False(trailers.Contains("X-Quota-Remaining"));
        Assert.False(trailers.NonValidated.Contains("Content-Length"));
    }

    [Fact]
    public async Task Http2Version_MaxConns_MoreRequestsThanOneConnectionsStreams_StillOneConnection()
    {
        // Arrange: an upstream that allows 2 streams per connection; 12 requests held a quarter second each
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http2, maxStreamsPerConnection: 2);
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", upstream.Url, new UpstreamInput { HttpVersion = "2", MaxConns = 2 });
        await gateway.AddRouteAsync(new RouteInput { Name = "h2", Path = "/h2/*", Upstream = "backend" });

        // Act
        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => gateway.Client.GetAsync(gateway.Url + "/h2/" + i + ProtocolUpstream.SlowPath)));

        // Assert: every request answered, over at most max_conns connections (the client opens no second HTTP/2 connection)
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(12, upstream.Connections.Values.Sum());
        Assert.Single(upstream.Connections);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Http2Version_MaxConns_BurstPastOneConnectionsStreams_QueuedTimeoutsDoNotEjectTheTarget()
    {
        // Arrange: one HTTP/2 connection of 100 streams (max_conns), answers after 3 s, a 5 s timeout, ejection after 25
        // failures in a row: of 150 requests at once, the 50 that wait for a stream (6 s in all) time out in the
        // gateway's own client — twice the failures that would eject the target if they counted — while the first 100
        // have two seconds to spare; on a loaded machine a few of those may still time out for real, and count (25 is
        // far above those few, far below the 50)
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http2);
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", upstream.Url, new UpstreamInput
        {
            HttpVersion = "2", MaxConns = 1, Timeout = "5s", HealthCheck = new HealthCheckInput { PassiveFailures = 25 },
        });
        await gateway.AddRouteAsync(new RouteInput { Name = "h2", Path = "/h2/*", Upstream = "backend" });

        // Act
        var burst = await Task.WhenAll(Enumerable.Range(0, 150).Select(i => gateway.Client.GetAsync(gateway.Url + "/h2/" + i + ProtocolUpstream.SlowPath + "?ms=3000")));
        using var after = await gateway.Client.GetAsync(gateway.Url + "/h2/after");

        // Assert: some waited past the timeout (504), yet the target was not ejected
        Assert.Contains(burst, r => r.StatusCode == HttpStatusCode.GatewayTimeout);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        foreach (var response in burst)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Http2Version_MaxConns_ServerAllowsOneStream_QueuedTimeoutsDoNotEjectTheTarget()
    {
        // Arrange: an HTTP/2 server that allows one stream per connection (its SETTINGS say so) and answers after 600 ms;
        // max_conns 1, a 1 s timeout, ejection after 2 failures. Of 6 requests at once (on a new connection: the server's
        // limit arrives after the burst has started), the 5 that wait for the one stream time out in the gateway's own
        // client; the server answered every request it was sent in time.
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http2, maxStreamsPerConnection: 1);
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", upstream.Url, new UpstreamInput
        {
            HttpVersion = "2", MaxConns = 1, Timeout = "1s", HealthCheck = new HealthCheckInput { PassiveFailures = 2 },
        });
        await gateway.AddRouteAsync(new RouteInput { Name = "h2", Path = "/h2/*", Upstream = "backend" });

        // Act
        var burst = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => gateway.Client.GetAsync(gateway.Url + "/h2/" + i + ProtocolUpstream.SlowPath + "?ms=600")));
        using var after = await gateway.Client.GetAsync(gateway.Url + "/h2/after");

        // Assert: the queued ones were answered 504, yet the target was not ejected (it would answer 503)
        Assert.Contains(burst, r => r.StatusCode == HttpStatusCode.GatewayTimeout);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        foreach (var response in burst)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Http2Version_MaxConns_ClientsLeaveWhileWaitingForAStream_NotRecorded()
    {
        // Arrange: an HTTP/2 server that allows one stream per connection, max_conns 1; a first request makes the
        // connection (and its limit known), a second holds the one stream for 2 s
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http2, maxStreamsPerConnection: 1);
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", upstream.Url, new UpstreamInput { HttpVersion = "2", MaxConns = 1, Timeout = "30s" });
        await gateway.AddRouteAsync(new RouteInput { Name = "h2", Path = "/h2/*", Upstream = "backend" });
        using (var first = await gateway.Client.GetAsync(gateway.Url + "/h2/first"))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        var holding = gateway.Client.GetAsync(gateway.Url + "/h2/held" + ProtocolUpstream.SlowPath + "?ms=2000");
        await Poll.UntilAsync(() => upstream.Received.Count == 2);

        // Act: three more wait in the gateway for the stream, and their clients give up there
        await Task.WhenAll(Enumerable.Range(0, 3).Select(async i =>
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => gateway.Client.GetAsync(gateway.Url + "/h2/queued-" + i, cancel.Token));
        }));
        using var held = await holding;
        var recorder = gateway.Service<ApiGate.Gateway.Usage.UsageRecorder>();
        await gateway.StopAsync();

        // Assert: the two requests the server was sent are recorded (and billed), the three it never saw are not
        Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        Assert.Equal(2, upstream.Received.Count);
        Assert.Equal(2, recorder.Written);
    }

    private static Task<TestGateway> StartTrustingAsync(X509Certificate2 certificate) =>
        TestGateway.StartAsync(services: s => s.AddSingleton(UpstreamTlsTrust.Only(X509CertificateLoader.LoadCertificate(certificate.RawData))));

    private static async Task AddRouteAsync(TestGateway gateway, string url, string httpVersion, HealthCheckInput? health = null)
    {
        await gateway.AddUpstreamAsync("backend", url, new UpstreamInput { HttpVersion = httpVersion, HealthCheck = health });
        await gateway.AddRouteAsync(new RouteInput { Name = "h2", Path = "/h2/*", Upstream = "backend" });
    }
}
