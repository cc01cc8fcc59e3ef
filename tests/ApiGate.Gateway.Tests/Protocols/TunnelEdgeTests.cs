using System.Net;
using System.Net.Sockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>WebSocket handshakes that are odd, refused by the limits, or whose clients all vanish at once.</summary>
public sealed class TunnelEdgeTests : GatewayTestBase
{
    private const string Key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";

    private UpstreamDefinitionHolder _upstream = null!;

    private protected override void Configure(GatewayOptions options) => options.RateLimitBurst = 0;

    private protected override async Task SetUpAsync()
    {
        _upstream = new UpstreamDefinitionHolder(await Gateway.AddUpstreamAsync("backend", Upstream.Url));
        await Gateway.AddRouteAsync(new RouteInput { Name = "socket", Path = "/socket/*", Upstream = "backend", Protocol = "websocket", AuthRequired = false }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "private", Path = "/private/*", Upstream = "backend", Protocol = "websocket", AuthRequired = true });
    }

    [Fact]
    public Task Upgrade_RateLimitExhausted_Refused429BeforeSwitching() =>
        // A key allowed one request a minute, spent.
        RefusedBeforeSwitchingAsync("rate@example.com", new PlanInput { Id = "one", Name = "One", RateLimitPerMinute = 1 }, 429, "rate_limit_exceeded");

    [Fact]
    public Task Upgrade_QuotaExhausted_Refused402BeforeSwitching() =>
        // A key whose monthly quota of one request is used up.
        RefusedBeforeSwitchingAsync("quota@example.com", new PlanInput { Id = "single", Name = "Single", RequestsPerMonth = 1 }, 402, "quota_exceeded");

    [Fact]
    public async Task Upgrade_ConnectionTokensInOddCaseAndSpacing_Switches()
    {
        var switched = await HandshakeAsync("/socket/ws", "Upgrade: WebSocket", "Connection: keep-alive ,  UPGRADE", Key, "Sec-WebSocket-Version: 13");

        Assert.Equal(101, switched.Status);
        Assert.Equal("websocket", switched.Headers["Upgrade"], ignoreCase: true);
    }

    [Theory]
    [InlineData("missing", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Version: 13")]
    [InlineData("underscored", "Upgrade: websocket", "Connection: Upgrade", "Sec_WebSocket_Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13")]
    [InlineData("short", "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: c2hvcnQ=", "Sec-WebSocket-Version: 13")]
    [InlineData("twice", "Upgrade: websocket", "Connection: Upgrade", Key, Key, "Sec-WebSocket-Version: 13")]
    public async Task Upgrade_KeyNotOneOf16Bytes_Refused400NamingTheHeader(string _, params string[] headers)
    {
        var served = Upstream.Served;

        var refused = await HandshakeAsync("/socket/ws", headers);

        Assert.Equal(400, refused.Status);
        Assert.Equal("invalid_header", refused.ErrorCode);
        Assert.Contains("Sec-WebSocket-Key", refused.Body, StringComparison.Ordinal);
        Assert.Equal(served, Upstream.Served);
    }

    [Fact]
    public async Task Upgrade_TwoUpgradeHeaders_NotTunnelledButForwardedAsAPlainRequest()
    {
        // Two Upgrade fields are not one WebSocket handshake: the request goes on without Upgrade, and the backend's
        // WebSocket endpoint answers such a request with its 400.
        var answered = await HandshakeAsync("/socket/ws", "Upgrade: websocket", "Upgrade: h2c", "Connection: Upgrade", Key, "Sec-WebSocket-Version: 13");

        Assert.Equal(400, answered.Status);
        Assert.False(answered.Headers.ContainsKey("Upgrade"));
        var received = Assert.Single(Upstream.Received, r => r.Path == "/socket/ws");
        Assert.False(received.Headers.ContainsKey("Upgrade"));
    }

    [Fact]
    public async Task Upgrade_VersionOtherThan13_BackendsRefusalPassedThrough()
    {
        var answered = await HandshakeAsync("/socket/ws", "Upgrade: websocket", "Connection: Upgrade", Key, "Sec-WebSocket-Version: 8");

        // The 400 is the backend's: it received the handshake with the version as sent, and nothing was switched.
        Assert.Equal(400, answered.Status);
        Assert.False(answered.Headers.ContainsKey("Upgrade"));
        var received = Assert.Single(Upstream.Received, r => r.Path == "/socket/ws");
        Assert.Equal("8", received.Headers["Sec-WebSocket-Version"][0]);
    }

    [Fact]
    public async Task Upgrade_WithARequestBody_NotTunnelledButForwardedAsAPlainRequest()
    {
        // The server does not switch a request that has a body: it goes on as the plain request it is, without Upgrade,
        // and the backend's WebSocket endpoint answers with its 400.
        var answered = await HandshakeAsync("/socket/ws", "Upgrade: websocket", "Connection: Upgrade", Key, "Sec-WebSocket-Version: 13", "Content-Length: 5\r\n\r\nhello");

        Assert.Equal(400, answered.Status);
        Assert.False(answered.Headers.ContainsKey("Upgrade"));
        var received = Assert.Single(Upstream.Received, r => r.Path == "/socket/ws");
        Assert.False(received.Headers.ContainsKey("Upgrade"), string.Join(", ", received.Headers.Keys));
        Assert.Equal("5", received.Headers["Content-Length"][0]);
    }

    [Fact]
    public async Task ManyTunnels_AllClientsVanish_NoTunnelOrStreamLeftCounted()
    {
        // Arrange: 200 WebSockets open through the gateway at once.
        const int count = 200;
        var opens = Gateway.Service<ApiGate.Gateway.Forwarding.OpenStreams>();
        var target = Gateway.Service<ApiGate.Gateway.Balancing.TargetRegistry>().Get(_upstream.Value.Id, Upstream.Url, 1);
        var uri = new Uri(Gateway.Url);
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < count; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                await socket.ConnectAsync(IPAddress.Loopback, uri.Port);
                await socket.SendAsync(Encoding.ASCII.GetBytes(
                    $"GET /socket/ws HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{Key}\r\nSec-WebSocket-Version: 13\r\n\r\n"));
                var head = new byte[1024];
                var read = await socket.ReceiveAsync(head);
                Assert.StartsWith("HTTP/1.1 101", Encoding.ASCII.GetString(head, 0, read), StringComparison.Ordinal);
            }

            Assert.Equal(count, opens.Open);
            Assert.Equal(count, target.Tunnels);
            Assert.Equal(count, target.InFlight);

            // Act: every client resets its connection, without a close frame.
            foreach (var socket in sockets)
            {
                socket.LingerState = new LingerOption(true, 0);
                socket.Close();
            }

            // Assert: every count returns to zero, and each tunnel was recorded once.
            await Poll.UntilAsync(() => opens.Open == 0 && target.Tunnels == 0 && target.InFlight == 0,
                () => $"open {opens.Open}, tunnels {target.Tunnels}, in flight {target.InFlight}");
            var recorder = Gateway.Service<ApiGate.Gateway.Usage.UsageRecorder>();
            await Poll.UntilAsync(() => recorder.Written + recorder.QueueDepth == count, () => "recorded: " + (recorder.Written + recorder.QueueDepth));
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
    }

    /// <summary>
    /// A key on <paramref name="plan"/> spends its one request, then asks for a WebSocket: it gets the normal refusal
    /// (<paramref name="status"/> with <paramref name="errorCode"/>), no switch, and nothing is sent upstream.
    /// </summary>
    private async Task RefusedBeforeSwitchingAsync(string email, PlanInput plan, int status, string errorCode)
    {
        // Arrange
        var (key, _, _) = await Gateway.CreateKeyAsync(email, plan);
        var spent = await RawHttp.GetAsync(Gateway.Url, "/private/echo", "X-API-Key: " + key);
        Assert.Equal(200, spent.Status);
        var served = Upstream.Served;

        // Act
        var refused = await HandshakeAsync("/private/ws", "X-API-Key: " + key);

        // Assert
        Assert.Equal(status, refused.Status);
        Assert.Equal(errorCode, refused.ErrorCode);
        Assert.False(refused.Headers.ContainsKey("Upgrade"));
        Assert.Equal(served, Upstream.Served);
    }

    private async Task<RawResponse> HandshakeAsync(string target, params string[] headers)
    {
        var text = new StringBuilder("GET ").Append(target).Append(" HTTP/1.1\r\nHost: gw\r\n");
        foreach (var line in headers)
        {
            text.Append(line).Append("\r\n");
        }

        if (!headers.Any(h => h.StartsWith("Content-Length", StringComparison.Ordinal)))
        {
            text.Append("\r\n");
        }

        // The answer's head (and a refusal's body) arrive before a tunnel would: read what comes within a bounded time.
        var uri = new Uri(Gateway.Url);
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, uri.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(text.ToString()));
        var received = new MemoryStream();
        var buffer = new byte[4096];
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!bound.IsCancellationRequested)
        {
            var read = await stream.ReadAsync(buffer, bound.Token);
            if (read == 0)
            {
                break;
            }

            received.Write(buffer, 0, read);
            var response = RawHttp.Parse(received.ToArray());
            if (response.Status == 101 || Complete(received.ToArray()))
            {
                return response;
            }
        }

        return RawHttp.Parse(received.ToArray());
    }

    // A complete answer: its head and a body of its Content-Length (or a chunked body's last chunk).
    private static bool Complete(byte[] received)
    {
        var headEnd = received.AsSpan().IndexOf("\r\n\r\n"u8);
        if (headEnd < 0)
        {
            return false;
        }

        var parsed = RawHttp.Parse(received);
        return parsed.Headers.TryGetValue("Content-Length", out var length)
            ? received.Length - headEnd - 4 >= int.Parse(length, System.Globalization.CultureInfo.InvariantCulture)
            : received.AsSpan(headEnd).IndexOf("0\r\n\r\n"u8) >= 0;
    }

    private sealed record UpstreamDefinitionHolder(ApiGate.Core.Upstreams.UpstreamDefinition Value);
}
