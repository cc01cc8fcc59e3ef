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
}
