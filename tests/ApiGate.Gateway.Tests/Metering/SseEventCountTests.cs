using System.Text;
using ApiGate.Gateway.Metering;

namespace ApiGate.Gateway.Tests.Metering;

/// <summary>
/// SSE events are counted as a browser's EventSource dispatches them: a block ending in a blank line that holds a
/// data field. Keep-alive comments and field-only blocks are not billed; every line ending the standard allows counts.
/// </summary>
public sealed class SseEventCountTests
{
    [Theory]
    [InlineData("data: one\n\ndata: two\n\n", 2)]
    [InlineData("data: one\r\n\r\ndata: two\r\n\r\n", 2)]
    [InlineData("data: one\r\rdata: two\r\r", 2)]                          // lone CR line endings
    [InlineData("data: a\ndata: b\n\n", 1)]                                // one event, two data lines
    [InlineData(": keep-alive\n\n: keep-alive\n\ndata: x\n\n", 1)]        // comments are not events
    [InlineData("event: ping\nid: 7\n\n", 0)]                              // no data: nothing dispatched
    [InlineData("retry: 1000\n\n", 0)]
    [InlineData("data\n\n", 1)]                                            // "data" alone is an (empty) data field
    [InlineData("database: x\n\n", 0)]                                     // not the data field
    [InlineData("dat: x\n\n", 0)]
    [InlineData("event: update\ndata: {\"a\":1}\n\n\n\n", 1)]             // extra blank lines end nothing more
    [InlineData("data: unfinished\n", 0)]                                  // no blank line yet
    [InlineData("\n\n\r\n", 0)]
    [InlineData("\uFEFFdata: 0\n\ndata: 1\n\n", 2)]                          // a byte order mark at the start is not text
    [InlineData("data: 0\n\n\uFEFFdata: 1\n\n", 1)]                          // only at the start: here it is
    public void Events_AsEventSourceWouldDispatchThem_WholeAndByteByByte(string stream, long expected)
    {
        // Arrange
        var bytes = Encoding.UTF8.GetBytes(stream);
        using var whole = new MeteredStream(Stream.Null, countEvents: true, captureLimit: 0);
        using var split = new MeteredStream(Stream.Null, countEvents: true, captureLimit: 0);

        // Act
        whole.Write(bytes);
        foreach (var b in bytes)
        {
            split.Write([b]);
        }

        // Assert
        Assert.Equal(expected, whole.Events);
        Assert.Equal(expected, split.Events);
    }

    [Fact]
    public void Events_StreamStartingWithTheFirstBytesOfAMarkButNotAMark_ThoseBytesAreText()
    {
        // 0xEF 0xBB then 'd': not a byte order mark; the first line is "\xEF\xBBdata: x", not a data field.
        using var stream = new MeteredStream(Stream.Null, countEvents: true, captureLimit: 0);

        stream.Write([0xEF, 0xBB, .. "data: x\n\ndata: y\n\n"u8]);

        Assert.Equal(1, stream.Events);
    }

    [Fact]
    public async Task Events_WriteThatFails_NotCounted()
    {
        // Arrange: the client connection is gone, so the write of the second event throws.
        var inner = new FailingAfter(1);
        await using var stream = new MeteredStream(inner, countEvents: true, captureLimit: 0);

        // Act
        await stream.WriteAsync("data: one\n\n"u8.ToArray());
        await Assert.ThrowsAsync<IOException>(async () => await stream.WriteAsync("data: two\n\n"u8.ToArray()));

        // Assert
        Assert.Equal((1, 11), (stream.Events, stream.Bytes));
    }

    /// <summary>A stream that takes <paramref name="writes"/> writes, then fails every one as a reset connection does.</summary>
    private sealed class FailingAfter(int writes) : MemoryStream
    {
        private int _left = writes;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
            _left-- > 0 ? base.WriteAsync(buffer, cancellationToken) : ValueTask.FromException(new IOException("Connection reset by peer"));
    }
}
