using System.Net;
using System.Net.Sockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Metering;

/// <summary>
/// A WebSocket client that stops reading a large message from the upstream and then vanishes (a reset, no close
/// frame) is billed for what its connection took, not for what the server dropped once it had gone.
/// </summary>
public sealed class StalledTunnelClientBytesTests : GatewayTestBase
{
    private protected override void Configure(GatewayOptions options) => options.UsageRawEvents = "all";

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "socket", Path = "/socket/*", Upstream = "backend", Protocol = "websocket", MeteringMode = "bytes" });
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ClientStopsReadingALargeMessageThenVanishes_ResponseBytesAreAtMostWhatItsConnectionTook(bool reset)
    {
        // Arrange: clients with small receive buffers open a WebSocket whose upstream sends one 2 GB message at once.
        const string request = "GET /socket/ws-flood?bytes=2000000000 HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

        // Act and Assert: once the kernel's queues to them are full the clients vanish without a close frame — resetting,
        // or closing with data unread — and each one's bytes are at most what it read, what the kernel held for it and
        // the server's buffers.
        await StalledClients.StallThenVanishAsync(Gateway, clients: 3, request, "HTTP/1.1 101", reset);
    }

    [Fact]
    public async Task UpstreamVanishesInTheMiddleOfAMessage_ResponseBytesAreWhatCrossedAndNoMore()
    {
        // Arrange: a client that reads everything; the upstream sends 10 MB of a message and then resets its connection.
        const long sent = 10 * 1024 * 1024;
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, new Uri(Gateway.Url).Port);
        await socket.SendAsync(Encoding.ASCII.GetBytes(
            $"GET /socket/ws-flood?bytes={sent}&vanish HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));

        // Act: read until the gateway ends the connection (it resets it: the tunnel broke).
        var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var reset = false;
        while (!reset)
        {
            try
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, bound.Token);
                if (read == 0)
                {
                    break;
                }

                received.Write(buffer, 0, read);
            }
            catch (SocketException failed) when (failed.SocketErrorCode == SocketError.ConnectionReset)
            {
                reset = true;
            }
        }

        var recorder = Gateway.Service<ApiGate.Gateway.Usage.UsageRecorder>();
        await Poll.UntilAsync(() => recorder.Written + recorder.QueueDepth == 1, () => "recorded: " + (recorder.Written + recorder.QueueDepth));
        await Gateway.StopAsync();

        // Assert: counted is at least what the client read after the switch (a reset may discard the last bytes it had
        // not read yet) and at most what the upstream sent (10 MB of payload in 64 KiB frames with 10-byte headers, no
        // close frame); the unfinished message is no message.
        var all = received.ToArray();
        var headEnd = all.AsSpan().IndexOf("\r\n\r\n"u8) + 4;
        Assert.StartsWith("HTTP/1.1 101", Encoding.ASCII.GetString(all, 0, headEnd), StringComparison.Ordinal);
        var tunnelled = all.Length - headEnd;
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(Gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        var e = Assert.Single(await store.GetRecentUsageAsync(UsageEvent.Anonymous, 10, CancellationToken.None));
        Assert.InRange(e.ResponseBytes, tunnelled, sent + (sent / (64 * 1024) * 10));
        Assert.True(tunnelled > 0, "the client read nothing of the message");
    }
}
