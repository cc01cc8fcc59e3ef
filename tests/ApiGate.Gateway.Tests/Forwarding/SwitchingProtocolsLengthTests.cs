using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Forwarding;

/// <summary>
/// An upstream that accepts a WebSocket handshake with a <c>101</c> carrying <c>Content-Length</c> (which no 1xx may
/// carry, RFC 9110 §8.6, nor the 2xx answering an HTTP/2 client's CONNECT) still opens the tunnel: the length is not
/// passed on. Passed on, the server refused the switch and the client got a bare <c>500</c> (no request id, an
/// unhandled exception in the log) while the exchange was recorded as a successful <c>101</c>.
/// </summary>
public sealed class SwitchingProtocolsLengthTests : IAsyncLifetime
{
    private readonly TcpListener _backend = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private Task _serving = Task.CompletedTask;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _backend.Start();
        _serving = ServeAsync();
        _gateway = await TestGateway.StartAsync(o => o.H2cPort = 0);
        await _gateway.AddUpstreamAsync("backend", $"http://127.0.0.1:{((IPEndPoint)_backend.LocalEndpoint).Port}");
        await _gateway.AddRouteAsync(new RouteInput { Name = "socket", Path = "/socket/*", Upstream = "backend", Protocol = "websocket" });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _stop.CancelAsync();
        _backend.Stop();
        await _serving.ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }

    /// <summary>Accepts every handshake (its key answered as RFC 6455 says) with a 101 that also says Content-Length: 10, then holds the tunnel.</summary>
    private async Task ServeAsync()
    {
        var held = new List<Socket>();
        try
        {
            while (true)
            {
                var socket = await _backend.AcceptSocketAsync(_stop.Token);
                held.Add(socket);
                var head = new StringBuilder();
                var buffer = new byte[4096];
                while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var read = await socket.ReceiveAsync(buffer, _stop.Token);
                    if (read == 0)
                    {
                        break;
                    }

                    head.Append(Encoding.ASCII.GetString(buffer, 0, read));
                }

                var key = head.ToString().Split("\r\n").FirstOrDefault(l => l.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase))?[18..].Trim() ?? "";
                var accept = Convert.ToBase64String(System.Security.Cryptography.SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
                await socket.SendAsync(Encoding.ASCII.GetBytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + $"Sec-WebSocket-Accept: {accept}\r\nContent-Length: 10\r\n\r\n"), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // stopped
        }
        finally
        {
            held.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task UpstreamSwitchesWithContentLength_Http11Client_Gets101WithoutIt()
    {
        // Arrange
        var uri = new Uri(_gateway.Url);
        using var client = new TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        var stream = client.GetStream();

        // Act
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET /socket/ws HTTP/1.1\r\nHost: gateway\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        var head = await ReadHeadAsync(stream);

        // Assert
        Assert.StartsWith("HTTP/1.1 101 ", head, StringComparison.Ordinal);
        Assert.DoesNotContain("Content-Length", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("X-Request-ID", head, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UpstreamSwitchesWithContentLength_Http2Client_TunnelOpens()
    {
        // Arrange: a WebSocket over HTTP/2 (extended CONNECT), answered 200 by the gateway once the upstream switched.
        using var handler = new SocketsHttpHandler { UseProxy = false };
        using var invoker = new HttpMessageInvoker(handler);
        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.CollectHttpResponseDetails = true;
        var h2c = new Uri(_gateway.Addresses.ElementAt(1));

        // Act
        await socket.ConnectAsync(new Uri($"ws://{h2c.Authority}/socket/ws"), invoker, CancellationToken.None);

        // Assert
        Assert.Equal(HttpStatusCode.OK, socket.HttpStatusCode);
        Assert.Equal(WebSocketState.Open, socket.State);
        Assert.False(socket.HttpResponseHeaders!.ContainsKey("Content-Length"));
    }

    /// <summary>Reads until the end of the response head (bounded: 10 s).</summary>
    private static async Task<string> ReadHeadAsync(NetworkStream stream)
    {
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var received = new StringBuilder();
        var buffer = new byte[1024];
        while (!received.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, bound.Token);
            if (read == 0)
            {
                break;
            }

            received.Append(Encoding.Latin1.GetString(buffer, 0, read));
        }

        return received.ToString();
    }
}
