using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Snapshots;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>
/// <c>sse</c> and <c>websocket</c> routes on HTTP/1.1 upstreams go through the gateway's own stream client (a connection
/// per stream, no idle buffers): what the upstream receives, bodies both ways, retries and errors, TLS. (WebSocket
/// sessions through it: Protocols/StreamingTests, ConcurrentStreamsTests, Http2WebSocketMeteringTests.)
/// </summary>
public sealed class SseUpstreamClientTests : GatewayTestBase
{
    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "http", Path = "/http/*", Upstream = "backend" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "events", Path = "/events/*", Upstream = "backend", Protocol = "sse" });
    }

    [Fact]
    public async Task SseRoute_EachStreamOnAConnectionOfItsOwn_HttpRouteOnThePooledOnes()
    {
        using var stream = await Gateway.Client.GetAsync(Gateway.Url + "/events/sse", HttpCompletionOption.ResponseHeadersRead);
        Upstream.SecondEventGate.TrySetResult();
        var events = await stream.Content.ReadAsStringAsync();
        using var plain = await Gateway.Client.GetAsync(Gateway.Url + "/http/plain");

        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        Assert.Contains("data: one", events);
        Assert.Contains("data: two", events);
        Assert.Equal("close", Header(Upstream.Received.Single(r => r.Path.EndsWith("/sse", StringComparison.Ordinal)), "Connection"));
        Assert.Null(Header(Upstream.Received.Single(r => r.Path.EndsWith("/plain", StringComparison.Ordinal)), "Connection"));
    }

    [Fact]
    public async Task WebSocketRoute_APlainRequest_AlsoGoesOnAConnectionOfItsOwn()
    {
        await Gateway.AddRouteAsync(new RouteInput { Name = "socket", Path = "/socket/*", Upstream = "backend", Protocol = "websocket" });

        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/socket/plain");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("close", Header(Upstream.Received.Single(r => r.Path.EndsWith("/plain", StringComparison.Ordinal)), "Connection"));
    }

    [Fact]
    public async Task SseRoute_PostWithABody_KnownOrUnknownLength_ReachesTheUpstream()
    {
        using var known = await Gateway.Client.PostAsync(Gateway.Url + "/events/echo-body", new StringContent("{\"prompt\":\"known\"}", Encoding.UTF8, "application/json"));
        var chunked = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes("{\"prompt\":\"chunked\"}")));
        using var request = new HttpRequestMessage(HttpMethod.Post, Gateway.Url + "/events/echo-body") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        using var unknown = await Gateway.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, known.StatusCode);
        Assert.Contains("known", await known.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, unknown.StatusCode);
        Assert.Contains("chunked", await unknown.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task SseRoute_OneTargetRefusesConnections_EveryStreamRetriedOnTheOther()
    {
        var closedPort = LoopbackPorts.Closed();
        var created = await Gateway.Upstreams.CreateAsync(new UpstreamInput
        {
            Name = "pair",
            Targets = [new TargetInput { Url = $"http://127.0.0.1:{closedPort}" }, new TargetInput { Url = Upstream.Url }],
        }.Parsed(), CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        await Gateway.AddRouteAsync(new RouteInput { Name = "pair-events", Path = "/pair/*", Upstream = "pair", Protocol = "sse" });

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            using var response = await Gateway.Client.GetAsync(Gateway.Url + "/pair/plain");
            statuses.Add(response.StatusCode);
        }

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
    }

    [Fact]
    public async Task SseRoute_UpstreamSendsAnInvalidHead_Answers502UpstreamError()
    {
        await using var hostile = await ScriptedBackend.StartAsync("HTTP/1.1 200 OK\r\nX-Forged : usr_admin\r\n\r\n");
        await Gateway.AddUpstreamAsync("hostile", hostile.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "hostile-events", Path = "/hostile/*", Upstream = "hostile", Protocol = "sse" });

        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/hostile/x");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("upstream_error", await response.Content.ReadAsStringAsync());
        Assert.False(response.Headers.Contains("X-Forged"));
    }

    [Fact]
    public async Task SseRoute_TlsUpstream_TrustedCertificate_StreamsOverHttp11()
    {
        using var certificate = TestCertificates.CreateLoopbackServer();
        await using var upstream = await ProtocolUpstream.StartAsync(HttpProtocols.Http1AndHttp2, certificate);
        await using var gateway = await TestGateway.StartAsync(services: s => s.AddSingleton(UpstreamTlsTrust.Only(X509CertificateLoader.LoadCertificate(certificate.RawData))));
        await gateway.AddUpstreamAsync("tls", upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "tls-events", Path = "/tls/*", Upstream = "tls", Protocol = "sse" });

        using var response = await gateway.Client.GetAsync(gateway.Url + "/tls/x");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("HTTP/1.1", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("http")]
    [InlineData("sse")]
    public async Task UpstreamStartsItsHeadersWithAContinuationLine_502UpstreamErrorOnEveryRouteKind(string protocol)
    {
        // Arrange: white space between the status line and the first header field (RFC 9112 §2.2): nothing to fold into
        await using var hostile = await ScriptedBackend.StartAsync("HTTP/1.1 200 OK\r\n X-Forged: usr_admin\r\nContent-Length: 2\r\n\r\nok");
        await Gateway.AddUpstreamAsync("leading", hostile.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "leading-" + protocol, Path = "/leading/*", Upstream = "leading", Protocol = protocol });

        // Act
        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/leading/x");

        // Assert
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("\"code\":\"upstream_error\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http", "\r\n", "first       second  \tthird")]
    [InlineData("sse", "\r\n", "first       second  \tthird")]
    [InlineData("websocket", "\r\n", "first       second  \tthird")]
    [InlineData("http", "\n", "first      second \tthird")]
    [InlineData("sse", "\n", "first      second \tthird")]
    public async Task UpstreamFoldsAResponseHeaderLine_EveryRouteKindPassesTheSameValueWithEachLineBreakMadeSpaces(
        string protocol, string lineBreak, string expected)
    {
        // Arrange: obsolete line folding (RFC 9112 §5.2), with white space on both sides of a fold, continued by space and by tab
        await using var folding = await ScriptedBackend.StartAsync(
            "HTTP/1.1 200 OK\r\nX-Folded: first  \r\n   second\r\n\tthird\r\nX-After: plain\r\nContent-Length: 2\r\n\r\nok".Replace("\r\n", lineBreak));
        await Gateway.AddUpstreamAsync("folding", folding.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "folding-" + protocol, Path = "/folding/*", Upstream = "folding", Protocol = protocol });

        // Act
        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/folding/x");

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, Assert.Single(response.Headers.GetValues("X-Folded"))); // CR LF: two spaces; LF: one
        Assert.Equal("plain", Assert.Single(response.Headers.GetValues("X-After")));
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("http", true)]
    [InlineData("sse", true)]
    [InlineData("http", false)]
    [InlineData("sse", false)]
    public async Task UpstreamAnswersBeforeReadingALargeBody_ThatAnswerIfItDrainsTheUpload_502IfItClosesAtOnce(string protocol, bool drains)
    {
        // Arrange: an upstream that refuses an upload from its head alone (a prompt too large), then either reads and
        // drops what the client sends until it stops (a lingering close, as nginx does) or closes at once with the body
        // unread, so its kernel answers the rest of the upload with a reset.
        const string answer = "{\"error\":\"prompt_size\"}";
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        _ = Task.Run(async () =>
        {
            using var socket = await listener.AcceptSocketAsync();
            var head = new StringBuilder();
            var buffer = new byte[64 * 1024];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await socket.ReceiveAsync(buffer.AsMemory(0, 1)) == 1)
            {
                head.Append((char)buffer[0]);
            }

            await socket.SendAsync(Encoding.ASCII.GetBytes(
                $"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\nContent-Length: {answer.Length}\r\nConnection: close\r\n\r\n{answer}"));
            while (drains && await ReceiveWithinAsync(socket, buffer, TimeSpan.FromSeconds(1)) > 0)
            {
            }

            socket.Close();
        });
        await Gateway.AddUpstreamAsync("refusing", $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}");
        await Gateway.AddRouteAsync(new RouteInput { Name = "refusing-" + protocol, Path = "/refusing/*", Upstream = "refusing", Protocol = protocol });

        // Act: an 8 MiB upload, far more than loopback's socket buffers take in
        using var response = await Gateway.Client.PostAsync(Gateway.Url + "/refusing/prompt", new ByteArrayContent(new byte[8 << 20]));
        var body = await response.Content.ReadAsStringAsync();

        // Assert: the upstream's answer once it has taken the upload in; an upstream that resets the upload loses its
        // answer with the connection on both clients (docs/forwarding.md), and the client is told so at once.
        if (drains)
        {
            Assert.Equal((HttpStatusCode.RequestEntityTooLarge, answer), (response.StatusCode, body));
        }
        else
        {
            Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
            Assert.Contains("\"code\":\"upstream_error\"", body, StringComparison.Ordinal);
        }
    }

    /// <summary>Receives into <paramref name="buffer"/>; 0 when the peer closed or sent nothing for <paramref name="quiet"/>.</summary>
    private static async Task<int> ReceiveWithinAsync(Socket socket, byte[] buffer, TimeSpan quiet)
    {
        using var bound = new CancellationTokenSource(quiet);
        try
        {
            return await socket.ReceiveAsync(buffer, bound.Token);
        }
        catch (OperationCanceledException)
        {
            return 0;
        }
    }

    private static string? Header(ReceivedRequest request, string name) =>
        request.Headers.FirstOrDefault(h => h.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();
}
