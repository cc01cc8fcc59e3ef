using System.Net;
using System.Net.WebSockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>
/// A WebSocket opened over HTTP/2 (RFC 8441 extended CONNECT, here on the gateway's h2c port) is metered like one
/// opened with an HTTP/1.1 upgrade: its messages and bytes are counted, so a client cannot make a session free by
/// choosing the protocol.
/// </summary>
public sealed class Http2WebSocketMeteringTests : IAsyncLifetime
{
    private TestUpstream _upstream = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _upstream = await TestUpstream.StartAsync();
        _gateway = await TestGateway.StartAsync(o =>
        {
            o.H2cPort = 0;
            o.UsageRawEvents = "all"; // a raw row for the public route's request, to read its recorded units back
        });
        await _gateway.AddUpstreamAsync("backend", _upstream.Url);
        await _gateway.AddRouteAsync(new RouteInput { Name = "socket", Path = "/socket/*", Upstream = "backend", Protocol = "websocket", MeteringMode = "custom", MeteringExpr = "wsMessages" });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task WebSocketOverHttp2_MessagesEchoed_MeteredAsMessagesBothWays()
    {
        // Arrange: a client that insists on HTTP/2 (prior knowledge, cleartext).
        using var handler = new SocketsHttpHandler { UseProxy = false };
        using var invoker = new HttpMessageInvoker(handler);
        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        var h2c = new Uri(_gateway.Addresses.ElementAt(1));

        // Act: three messages, each echoed.
        await socket.ConnectAsync(new Uri($"ws://{h2c.Authority}/socket/ws"), invoker, CancellationToken.None);
        var buffer = new byte[256];
        for (var i = 0; i < 3; i++)
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes("message " + i), WebSocketMessageType.Text, true, CancellationToken.None);
            var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
            Assert.Equal("message " + i, Encoding.UTF8.GetString(buffer, 0, received.Count));
        }

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        await _gateway.StopAsync();

        // Assert: 3 messages each way, and the bytes that crossed.
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(_gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        var e = Assert.Single(await store.GetRecentUsageAsync(UsageEvent.Anonymous, 10, CancellationToken.None));
        Assert.Equal("CONNECT", e.Method);
        Assert.Equal(6, e.Units);
        Assert.True(e.RequestBytes > 0);
        Assert.True(e.ResponseBytes > 0);
    }

    [Theory]
    [InlineData("1.1")]
    [InlineData("2")]
    public async Task WebSocket_RouteAdmittingOnlyGet_MatchedOverEitherVersion(string version)
    {
        // Arrange: a WebSocket route limited to GET, the method of an HTTP/1.1 handshake; over HTTP/2 the handshake is an
        // extended CONNECT (RFC 8441), and CONNECT cannot be written in a route's methods.
        await _gateway.AddRouteAsync(new RouteInput { Name = "get-socket", Path = "/get-socket/*", Upstream = "backend", Protocol = "websocket", Methods = "GET" });
        using var handler = new SocketsHttpHandler { UseProxy = false };
        using var invoker = new HttpMessageInvoker(handler);
        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = version == "2" ? HttpVersion.Version20 : HttpVersion.Version11;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.CollectHttpResponseDetails = true;
        var address = new Uri(_gateway.Addresses.ElementAt(version == "2" ? 1 : 0));

        // Act
        await socket.ConnectAsync(new Uri($"ws://{address.Authority}/get-socket/ws"), invoker, CancellationToken.None);
        await socket.SendAsync(Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[64];
        var received = await socket.ReceiveAsync(buffer, CancellationToken.None);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);

        // Assert
        Assert.Equal(version == "2" ? HttpStatusCode.OK : HttpStatusCode.SwitchingProtocols, socket.HttpStatusCode);
        Assert.Equal("hello", Encoding.UTF8.GetString(buffer, 0, received.Count));
    }

    [Theory]
    [InlineData(200)]
    [InlineData(403)]
    public async Task WebSocketOverHttp2_UpstreamDoesNotSwitchProtocols_AnsweredWithRequestId(int upstreamStatus)
    {
        // Arrange: the HTTP/1.1 upstream answers the upgrade with a plain status instead of 101
        using var handler = new SocketsHttpHandler { UseProxy = false };
        using var invoker = new HttpMessageInvoker(handler);
        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.CollectHttpResponseDetails = true;
        var h2c = new Uri(_gateway.Addresses.ElementAt(1));

        // Act
        var refused = await Assert.ThrowsAsync<WebSocketException>(() =>
            socket.ConnectAsync(new Uri($"ws://{h2c.Authority}/socket/status?code={upstreamStatus}"), invoker, CancellationToken.None));

        // Assert
        Assert.NotNull(refused);
        var expected = upstreamStatus == 200 ? HttpStatusCode.BadGateway : (HttpStatusCode)upstreamStatus;
        Assert.Equal(expected, socket.HttpStatusCode);
        Assert.True(socket.HttpResponseHeaders!.ContainsKey("X-Request-ID"), string.Join(", ", socket.HttpResponseHeaders.Keys));
    }
}
