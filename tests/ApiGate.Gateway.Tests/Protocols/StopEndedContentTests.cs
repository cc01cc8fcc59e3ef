using System.Net;
using System.Net.Sockets;
using ApiGate.Gateway.Forwarding;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>
/// The upstream's side of a WebSocket when the stop begins, over a real loopback connection: between two frames the
/// client is sent a close frame with status 1001 and then the end; in the middle of a frame only the end, so no frame is
/// ever split by one of the gateway's own; after the upstream's own close frame only the end, so the client never gets
/// two. The route types that get this end are tested end to end in <see cref="StopWithOpenStreamsTests"/>.
/// </summary>
public sealed class StopEndedContentTests
{
    private static readonly byte[] Hello = [0x81, 0x05, (byte)'h', (byte)'e', (byte)'l', (byte)'l', (byte)'o'];

    [Fact]
    public async Task Stop_BetweenTwoFrames_ReadsACloseFrame1001ThenTheEnd()
    {
        // Arrange: one whole text frame has been passed on.
        await using var pair = await LoopbackPair.OpenAsync();
        using var stop = new CancellationTokenSource();
        using var content = new StopEndedContent(new StreamContent(pair.Upstream), stop.Token, webSocket: true);
        var stream = await content.ReadAsStreamAsync();
        await pair.Sender.SendAsync(Hello);
        Assert.Equal(Hello, await ReadExactlyAsync(stream, Hello.Length));

        // Act
        var buffer = new byte[64];
        var pending = stream.ReadAsync(buffer, 0, buffer.Length);
        stop.Cancel();

        // Assert
        Assert.Equal(4, await pending);
        Assert.Equal(new byte[] { 0x88, 0x02, 0x03, 0xE9 }, buffer[..4]);
        Assert.Equal(0, await stream.ReadAsync(buffer));
    }

    [Fact]
    public async Task Stop_InTheMiddleOfAFrame_ReadsOnlyTheEnd()
    {
        // Arrange: a whole frame and the first half of another.
        await using var pair = await LoopbackPair.OpenAsync();
        using var stop = new CancellationTokenSource();
        using var content = new StopEndedContent(new StreamContent(pair.Upstream), stop.Token, webSocket: true);
        var stream = await content.ReadAsStreamAsync();
        await pair.Sender.SendAsync(Hello.Concat(Hello[..4]).ToArray());
        Assert.Equal(Hello.Length + 4, (await ReadExactlyAsync(stream, Hello.Length + 4)).Length);

        // Act
        var pending = stream.ReadAsync(new byte[64], 0, 64);
        stop.Cancel();

        // Assert
        Assert.Equal(0, await pending);
    }

    [Fact]
    public async Task Stop_AfterTheUpstreamsOwnCloseFrame_ReadsOnlyTheEnd()
    {
        // Arrange: the upstream's own close frame (status 1000) has been passed on, and the upstream holds its connection
        // open, as a server does while it waits for the client's close (RFC 6455 §5.5.1).
        byte[] normalClosure = [0x88, 0x02, 0x03, 0xE8];
        await using var pair = await LoopbackPair.OpenAsync();
        using var stop = new CancellationTokenSource();
        using var content = new StopEndedContent(new StreamContent(pair.Upstream), stop.Token, webSocket: true);
        var stream = await content.ReadAsStreamAsync();
        await pair.Sender.SendAsync(Hello.Concat(normalClosure).ToArray());
        Assert.Equal(Hello.Concat(normalClosure), await ReadExactlyAsync(stream, Hello.Length + normalClosure.Length));

        // Act
        var pending = stream.ReadAsync(new byte[64], 0, 64);
        stop.Cancel();

        // Assert: no second close frame after the upstream's, only the end.
        Assert.Equal(0, await pending);
    }

    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int count)
    {
        var data = new byte[count];
        await stream.ReadExactlyAsync(data);
        return data;
    }

    /// <summary>Two connected loopback sockets: what <see cref="Sender"/> sends, <see cref="Upstream"/> reads.</summary>
    private sealed class LoopbackPair : IAsyncDisposable
    {
        private LoopbackPair(Socket sender, NetworkStream upstream)
        {
            Sender = sender;
            Upstream = upstream;
        }

        public Socket Sender { get; }

        public NetworkStream Upstream { get; }

        public static async Task<LoopbackPair> OpenAsync()
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await sender.ConnectAsync(listener.LocalEndPoint!);
            var accepted = await listener.AcceptAsync();
            return new LoopbackPair(sender, new NetworkStream(accepted, ownsSocket: true));
        }

        public async ValueTask DisposeAsync()
        {
            Sender.Dispose();
            await Upstream.DisposeAsync();
        }
    }
}
