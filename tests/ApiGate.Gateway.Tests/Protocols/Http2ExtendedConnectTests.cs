using System.Net;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>
/// An HTTP/2 extended CONNECT (RFC 8441) for another protocol than <c>websocket</c> — <c>connect-udp</c> (RFC 9298) asks
/// for a UDP tunnel to any host — is refused like a plain CONNECT, before any route, key or limit. It used to be routed,
/// authenticated and handed to the forwarder, which cannot build such a request: a 502 upstream_error blamed on the
/// upstream, a warning in the log and a billed usage event for a request no backend saw.
/// </summary>
public sealed class Http2ExtendedConnectTests : IAsyncLifetime
{
    private TestUpstream _upstream = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _upstream = await TestUpstream.StartAsync();
        _gateway = await TestGateway.StartAsync(o =>
        {
            o.H2cPort = 0;
            o.UsageRawEvents = "all"; // a raw row for a public route's request too, to see that none is recorded
        });
        await _gateway.AddUpstreamAsync("backend", _upstream.Url);
        await _gateway.AddRouteAsync(new RouteInput { Name = "pub", Path = "/pub/*", Upstream = "backend" });
        await _gateway.AddRouteAsync(new RouteInput { Name = "priv", Path = "/priv/*", Upstream = "backend", AuthRequired = true });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Theory]
    [InlineData("/pub/tunnel", "connect-udp")]
    [InlineData("/priv/tunnel", "connect-ip")]
    [InlineData("/pub/tunnel", "foo")]
    public async Task ExtendedConnect_ProtocolOtherThanWebSocket_Returns405BeforeAnyRouteAndIsNotForwarded(string path, string protocol)
    {
        // Arrange: an HTTP/2 client (prior knowledge, the h2c port) sending CONNECT with :protocol.
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var request = new HttpRequestMessage(HttpMethod.Connect, _gateway.Addresses.ElementAt(1) + path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent("datagram"u8.ToArray()),
        };
        request.Headers.Protocol = protocol;

        // Act
        using var response = await client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        await _gateway.StopAsync();

        // Assert
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        using var error = JsonDocument.Parse(body);
        Assert.Equal("method_not_allowed", error.RootElement.GetProperty("errors")[0].GetProperty("code").GetString());
        Assert.Equal("CONNECT is not forwarded: the gateway opens no tunnels.", error.RootElement.GetProperty("errors")[0].GetProperty("detail").GetString());
        Assert.Contains("GET", response.Content.Headers.Allow);
        Assert.Empty(_upstream.Received);
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(_gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        Assert.Empty(await store.GetRecentUsageAsync(UsageEvent.Anonymous, 10, CancellationToken.None));
    }
}
