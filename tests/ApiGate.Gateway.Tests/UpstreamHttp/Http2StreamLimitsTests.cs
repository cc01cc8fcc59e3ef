using ApiGate.Gateway.UpstreamHttp;

namespace ApiGate.Gateway.Tests.UpstreamHttp;

/// <summary>Reading the stream limit from an HTTP/2 server's first SETTINGS frame, however the bytes arrive.</summary>
public sealed class Http2StreamLimitsTests
{
    private const string Origin = "http://127.0.0.1:8080";

    // SETTINGS (type 4), 12 bytes: HEADER_TABLE_SIZE 4096, MAX_CONCURRENT_STREAMS 7; then a PING frame.
    private static readonly byte[] Settings = [0, 0, 12, 4, 0, 0, 0, 0, 0, 0, 1, 0, 0, 16, 0, 0, 3, 0, 0, 0, 7];
    private static readonly byte[] Ping = [0, 0, 8, 6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(4096)]
    public async Task FirstSettingsFrame_ReadInPiecesOfAnySize_StatedLimitRecordedAndBytesPassedUnchanged(int readSize)
    {
        // Arrange
        var limits = new Http2StreamLimits();
        var sent = Settings.Concat(Ping).ToArray();
        await using var watcher = new Http2StreamLimits.SettingsWatcher(new MemoryStream(sent), limits, Origin);
        var before = limits.For(Origin);

        // Act
        var received = new List<byte>();
        var buffer = new byte[readSize];
        int read;
        while ((read = await watcher.ReadAsync(buffer)) > 0)
        {
            received.AddRange(buffer[..read]);
        }

        // Assert
        Assert.Equal(Http2StreamLimits.Default, before);
        Assert.Equal(7, limits.For(Origin));
        Assert.Equal(sent, received);
    }

    [Fact]
    public async Task LaterConnectionStatesNoLimit_DefaultAgain()
    {
        // Arrange: a first connection stated 7; the next one's SETTINGS carry no MAX_CONCURRENT_STREAMS
        var limits = new Http2StreamLimits();
        await using (var first = new Http2StreamLimits.SettingsWatcher(new MemoryStream(Settings), limits, Origin))
        {
            await first.ReadExactlyAsync(new byte[Settings.Length]);
        }

        byte[] withoutLimit = [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 1, 0, 0, 16, 0];
        await using var second = new Http2StreamLimits.SettingsWatcher(new MemoryStream(withoutLimit), limits, Origin);

        // Act
        await second.ReadExactlyAsync(new byte[withoutLimit.Length]);

        // Assert
        Assert.Equal(Http2StreamLimits.Default, limits.For(Origin));
    }

    [Fact]
    public async Task ServerStatesZeroStreams_CountedAsOne()
    {
        // Arrange: SETTINGS with MAX_CONCURRENT_STREAMS 0, a server taking no stream for now
        var limits = new Http2StreamLimits();
        byte[] noStreams = [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0];
        await using var watcher = new Http2StreamLimits.SettingsWatcher(new MemoryStream(noStreams), limits, Origin);

        // Act
        await watcher.ReadExactlyAsync(new byte[noStreams.Length]);

        // Assert: the first exchange in flight is the target's own; only those beyond it may have waited in the gateway
        Assert.Equal(1, limits.For(Origin));
    }
}
