using ApiGate.Gateway.Metering;

namespace ApiGate.Gateway.Tests.Metering;

public sealed class WebSocketMessageCounterTests
{
    [Fact]
    public void Observe_FramesSplitAnywhere_CountsDataMessagesOnly()
    {
        // Arrange: a masked text message, a ping, a fragmented binary message (2 frames), a 300-byte and a 70 KB message.
        var stream = Concat(
            Frame(fin: true, opcode: 1, payload: 5, masked: true),
            Frame(fin: true, opcode: 9, payload: 0, masked: true),
            Frame(fin: false, opcode: 2, payload: 10, masked: false),
            Frame(fin: true, opcode: 0, payload: 10, masked: false),
            Frame(fin: true, opcode: 1, payload: 300, masked: false),
            Frame(fin: true, opcode: 2, payload: 70_000, masked: true),
            Frame(fin: true, opcode: 8, payload: 2, masked: false));
        var whole = new WebSocketMessageCounter();
        var byteByByte = new WebSocketMessageCounter();

        // Act
        whole.Observe(stream);
        foreach (var b in stream)
        {
            byteByByte.Observe([b]);
        }

        // Assert
        Assert.Equal(4, whole.Messages);
        Assert.Equal(4, byteByByte.Messages);
    }

    [Fact]
    public void Observe_CloseFrameHeader_ClosePassedButNotForAPayloadThatLooksLikeOne()
    {
        // Arrange: a text message whose payload holds a close frame's bytes, then a close frame's header.
        byte[] text = [0x81, 0x04, 0x88, 0x02, 0x03, 0xE8];
        byte[] closeHeader = [0x88, 0x02];
        var counter = new WebSocketMessageCounter();

        // Act
        counter.Observe(text);
        var afterText = counter.ClosePassed;
        counter.Observe(closeHeader);

        // Assert
        Assert.False(afterText);
        Assert.True(counter.ClosePassed);
    }

    [Theory]
    [InlineData(true, true)]
    [InlineData(false, false)]
    public async Task CountingStream_ClientCloseAfterTheGatewaysClose_IsAnAnswer(bool gatewayClosesFirst, bool answered)
    {
        // Arrange: a tunnel whose client side holds one close frame to read; the gateway writes its own close frame
        // before or after reading it
        byte[] close = [0x88, 0x02, 0x03, 0xE8];
        await using var tunnel = new WebSocketCountingStream(new ReadThenDiscard(close));
        var buffer = new byte[16];

        // Act
        if (gatewayClosesFirst)
        {
            await tunnel.WriteAsync(close);
            await tunnel.ReadExactlyAsync(buffer.AsMemory(0, close.Length));
        }
        else
        {
            await tunnel.ReadExactlyAsync(buffer.AsMemory(0, close.Length));
            await tunnel.WriteAsync(close);
        }

        // Assert: only a Close read after the gateway's is the client answering the handshake (it then had everything)
        Assert.Equal(answered, tunnel.ClientAnsweredClose);
    }

    [Fact]
    public void Observe_MessageCutOffInItsPayload_NotCounted()
    {
        // Arrange: two whole 1,000-byte messages, then a third of which only 400 payload bytes pass.
        var stream = Concat(Frame(fin: true, opcode: 2, payload: 1000, masked: false), Frame(fin: true, opcode: 2, payload: 1000, masked: false),
            Frame(fin: true, opcode: 2, payload: 1000, masked: false));
        var counter = new WebSocketMessageCounter();

        // Act
        counter.Observe(stream.AsSpan(0, stream.Length - 600));

        // Assert
        Assert.Equal(2, counter.Messages);
        counter.Observe(stream.AsSpan(stream.Length - 600)); // the rest passes: now it is a message
        Assert.Equal(3, counter.Messages);
    }

    [Fact]
    public void Observe_64BitLengthWithTheTopBitSet_NothingAfterItCountedAndNoFrameBoundary()
    {
        // Arrange: a message, then a frame whose 64-bit length has the most significant bit set (RFC 6455 forbids it),
        // then bytes that would read as ten empty text messages if taken as frame headers
        var broken = new byte[] { 0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0 };
        var looksLikeMessages = Enumerable.Repeat(Frame(fin: true, opcode: 1, payload: 0, masked: false), 10).SelectMany(f => f).ToArray();
        var counter = new WebSocketMessageCounter();

        // Act
        counter.Observe(Concat(Frame(fin: true, opcode: 1, payload: 3, masked: false), broken, looksLikeMessages));

        // Assert
        Assert.Equal(1, counter.Messages);
        Assert.False(counter.AtFrameBoundary);
    }

    [Fact]
    public void Observe_EmptyMessage_CountedAtItsHeader()
    {
        var counter = new WebSocketMessageCounter();

        counter.Observe(Frame(fin: true, opcode: 1, payload: 0, masked: true));

        Assert.Equal(1, counter.Messages);
    }

    private static byte[] Frame(bool fin, int opcode, int payload, bool masked)
    {
        var header = new List<byte> { (byte)((fin ? 0x80 : 0) | opcode) };
        var mask = masked ? 0x80 : 0;
        if (payload < 126)
        {
            header.Add((byte)(mask | payload));
        }
        else if (payload <= ushort.MaxValue)
        {
            header.Add((byte)(mask | 126));
            header.Add((byte)(payload >> 8));
            header.Add((byte)payload);
        }
        else
        {
            header.Add((byte)(mask | 127));
            for (var shift = 56; shift >= 0; shift -= 8)
            {
                header.Add((byte)((long)payload >> shift));
            }
        }

        if (masked)
        {
            header.AddRange([1, 2, 3, 4]);
        }

        return [.. header, .. new byte[payload]];
    }

    private static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    /// <summary>A duplex stand-in for a client connection: reads give <paramref name="toRead"/>, writes are taken and dropped.</summary>
    private sealed class ReadThenDiscard(byte[] toRead) : Stream
    {
        private readonly MemoryStream _reads = new(toRead);

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => _reads.Read(buffer, offset, count);

        public override void Write(byte[] buffer, int offset, int count)
        {
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
