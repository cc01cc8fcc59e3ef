using System.Globalization;
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
    // What the server may hold past the kernel's queues and still count: its output buffer (64 KiB) and one write of
    // the forwarder's copy buffer (64 KiB), twice over.
    private const long ServerBuffers = 256 * 1024;

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
        const int clients = 3;
        var uri = new Uri(Gateway.Url);
        var sockets = new List<Socket>();
        var read = new long[clients];
        try
        {
            for (var i = 0; i < clients; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
                sockets.Add(socket);
                await socket.ConnectAsync(IPAddress.Loopback, uri.Port);
                await socket.SendAsync(Encoding.ASCII.GetBytes(
                    "GET /socket/ws-flood?bytes=2000000000 HTTP/1.1\r\nHost: gw\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"));
                var head = new byte[1024];
                read[i] = await socket.ReceiveAsync(head);
                Assert.StartsWith("HTTP/1.1 101", Encoding.ASCII.GetString(head), StringComparison.Ordinal);
            }

            // Act: once the kernel's queues between each client and the gateway are full (unchanged over ten looks in a
            // row), the clients vanish without a close frame — resetting, or closing with data unread.
            var queued = new long[clients];
            var unchanged = 0;
            await Poll.UntilAsync(() =>
            {
                var now = sockets.Select(Queued).ToArray();
                unchanged = now.All(q => q > 0) && now.SequenceEqual(queued) ? unchanged + 1 : 0;
                queued = now;
                return unchanged >= 10;
            }, () => "the queues to the clients did not fill: " + string.Join(", ", queued));
            foreach (var socket in sockets)
            {
                if (reset)
                {
                    socket.LingerState = new LingerOption(true, 0);
                }

                socket.Close();
            }

            var recorder = Gateway.Service<ApiGate.Gateway.Usage.UsageRecorder>();
            await Poll.UntilAsync(() => recorder.Written + recorder.QueueDepth == clients, () => "recorded: " + (recorder.Written + recorder.QueueDepth));
            await Gateway.StopAsync();

            // Assert: each one's bytes are at most what it read, what the kernel held for it and the server's buffers.
            await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(Gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
            var events = await store.GetRecentUsageAsync(UsageEvent.Anonymous, 100, CancellationToken.None);
            Assert.Equal(clients, events.Count);
            var bound = read.Max() + queued.Max() + ServerBuffers;
            Assert.All(events, e => Assert.InRange(e.ResponseBytes, 1, bound));
        }
        finally
        {
            sockets.ForEach(s => s.Dispose());
        }
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

    /// <summary>The bytes both ends' kernels hold on a client's connection to the gateway (/proc/net/tcp tx and rx queues).</summary>
    private static long Queued(Socket client)
    {
        var port = ":" + ((IPEndPoint)client.LocalEndPoint!).Port.ToString("X4", CultureInfo.InvariantCulture);
        long total = 0;
        foreach (var line in File.ReadLines("/proc/net/tcp").Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields[1].EndsWith(port, StringComparison.Ordinal) || fields[2].EndsWith(port, StringComparison.Ordinal))
            {
                var queues = fields[4].Split(':');
                total += long.Parse(queues[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture) + long.Parse(queues[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
        }

        return total;
    }
}
