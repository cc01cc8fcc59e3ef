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
}
