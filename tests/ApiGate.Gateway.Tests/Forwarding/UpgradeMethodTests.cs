using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Forwarding;

/// <summary>
/// Only a <c>GET</c> with <c>Upgrade: websocket</c> is tunnelled as an HTTP/1.1 upgrade (RFC 6455 §4.1). The proxy
/// library sends every upgrade it tunnels as a <c>GET</c>, so a <c>POST</c> carrying the handshake's headers reached the
/// backend as a <c>GET</c>, past a route admitting only <c>POST</c>; and an <c>Upgrade: SPDY/3.1</c> was tunnelled too,
/// though <c>Upgrade</c> is removed for everything but a WebSocket. Such requests go upstream as what they are: their own
/// method, without <c>Upgrade</c>.
/// </summary>
public sealed class UpgradeMethodTests : GatewayTestBase
{
    private protected override Task SetUpAsync() => Task.CompletedTask;

    [Theory]
    [InlineData("POST", "websocket")]
    [InlineData("DELETE", "websocket")]
    [InlineData("POST", "SPDY/3.1")]
    [InlineData("GET", "SPDY/3.1")]
    public async Task UpgradeOtherThanWebSocketGet_ForwardedAsItsOwnMethodWithoutUpgrade(string method, string upgrade)
    {
        // Arrange: a public route admitting only the request's method.
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "only", Path = "/only/*", Upstream = "backend", Methods = method, AuthRequired = false });
        var request = $"{method} /only/x HTTP/1.1\r\nHost: gateway\r\nConnection: Upgrade, close\r\nUpgrade: {upgrade}\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

        // Act
        var response = await RawHttp.SendAsync(Gateway.Url, Encoding.ASCII.GetBytes(request));

        // Assert: the backend ran the method the route admitted, and was not asked to switch protocols.
        Assert.Equal(200, response.Status);
        var received = Assert.Single(Upstream.Received);
        Assert.Equal(method, received.Method);
        Assert.False(received.Headers.ContainsKey("Upgrade"), string.Join(", ", received.Headers.Keys));
    }

    [Fact]
    public async Task WebSocketHandshakeOverHttp10_ForwardedAsAPlainGetWithoutUpgrade()
    {
        // Arrange: a handshake's headers on an HTTP/1.0 request, which cannot switch protocols (RFC 6455 §4.1 asks for
        // HTTP/1.1; RFC 9110 §7.8: a server ignores Upgrade in an HTTP/1.0 request). It used to be tunnelled, answered
        // with a 101 an HTTP/1.0 client or proxy cannot read as a switch.
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "socket", Path = "/socket/*", Upstream = "backend", Protocol = "websocket", AuthRequired = false });
        const string request = "GET /socket/ws HTTP/1.0\r\nHost: gateway\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

        // Act: the response's status line (a tunnel would not close, so the head alone is read).
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync("127.0.0.1", new Uri(Gateway.Url).Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request));
        using var reader = new StreamReader(stream, Encoding.ASCII);
        var statusLine = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));

        // Assert: the backend got a plain GET (its WebSocket endpoint answers such a request 400), nothing was switched.
        Assert.StartsWith("HTTP/1.1 400 ", statusLine);
        var received = Assert.Single(Upstream.Received);
        Assert.Equal("GET", received.Method);
        Assert.False(received.Headers.ContainsKey("Upgrade"), string.Join(", ", received.Headers.Keys));
    }
}
