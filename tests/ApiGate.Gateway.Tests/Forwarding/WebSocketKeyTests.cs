using System.Text;
using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ApiGate.Gateway.Tests.Forwarding;

/// <summary>
/// A WebSocket handshake whose <c>Sec-WebSocket-Key</c> is not one 16-byte base64 value (RFC 6455 §4.1) is refused by
/// the gateway with <c>400 invalid_header</c> before anything else, whatever the upstream speaks. Toward an HTTP/2
/// upstream the proxy library used to answer it with a bare <c>400</c> itself and report the exchange as forwarded, so
/// a request no backend saw was recorded and billed.
/// </summary>
public sealed class WebSocketKeyTests
{
    [Theory]
    [InlineData("1.1", "Sec-WebSocket-Key: bad\r\n")]
    [InlineData("2", "Sec-WebSocket-Key: bad\r\n")]
    [InlineData("2", "")]
    [InlineData("2", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")]
    public async Task HandshakeWithoutOneValidKey_Refused400InvalidHeader_NotForwardedNorRecorded(string httpVersion, string keyLines)
    {
        // Arrange: a WebSocket route to an upstream speaking HTTP/1.1 or HTTP/2 (which the gateway reaches by extended CONNECT).
        await using var http1 = await TestUpstream.StartAsync();
        await using var http2 = await ProtocolUpstream.StartAsync(HttpProtocols.Http2);
        await using var gateway = await TestGateway.StartAsync(o => o.UsageRawEvents = "all");
        await gateway.AddUpstreamAsync("backend", httpVersion == "2" ? http2.Url : http1.Url, new UpstreamInput { HttpVersion = httpVersion });
        await gateway.AddRouteAsync(new RouteInput { Name = "socket", Path = "/socket/*", Upstream = "backend", Protocol = "websocket" });
        var request = "GET /socket/ws HTTP/1.1\r\nHost: gateway\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n" + keyLines + "Sec-WebSocket-Version: 13\r\n\r\n";

        // Act
        var response = await RawHttp.SendAsync(gateway.Url, Encoding.ASCII.GetBytes(request));
        await gateway.StopAsync();

        // Assert: the gateway's own error, naming the header; nothing reached a backend, nothing recorded.
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_header", response.ErrorCode);
        Assert.Contains("Sec-WebSocket-Key", response.Body, StringComparison.Ordinal);
        Assert.DoesNotContain(http1.Received, r => r.Path == "/socket/ws");
        Assert.Empty(http2.Received);
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        Assert.Empty(await store.GetRecentUsageAsync(UsageEvent.Anonymous, 10, CancellationToken.None));
    }
}
