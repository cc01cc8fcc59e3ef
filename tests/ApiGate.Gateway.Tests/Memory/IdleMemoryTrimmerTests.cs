using ApiGate.Gateway.Memory;

namespace ApiGate.Gateway.Tests.Memory;

public sealed class IdleMemoryTrimmerTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void ShouldTrim_IdleAndHeapGrewPastSlack_True() =>
        Assert.True(IdleMemoryTrimmer.ShouldTrim(allocatedSinceLastLook: 1 * MiB, heapNow: 200 * MiB, heapAfterLastTrim: 60 * MiB));

    [Fact]
    public void ShouldTrim_StillAllocating_False() =>
        Assert.False(IdleMemoryTrimmer.ShouldTrim(allocatedSinceLastLook: 4 * MiB, heapNow: 200 * MiB, heapAfterLastTrim: 60 * MiB));

    [Fact]
    public void ShouldTrim_GrowthBelowSixteenMiB_False() =>
        Assert.False(IdleMemoryTrimmer.ShouldTrim(0, heapNow: 36 * MiB, heapAfterLastTrim: 20 * MiB));

    [Fact]
    public void ShouldTrim_GrowthJustPastSixteenMiB_True() =>
        Assert.True(IdleMemoryTrimmer.ShouldTrim(0, heapNow: 36 * MiB + 1, heapAfterLastTrim: 20 * MiB));

    [Fact]
    public void ShouldTrim_GrowthBelowAQuarterOfALargeBaseline_False() =>
        Assert.False(IdleMemoryTrimmer.ShouldTrim(0, heapNow: 500 * MiB, heapAfterLastTrim: 400 * MiB));

    [Fact]
    public void ShouldTrim_GrowthAboveAQuarterOfALargeBaseline_True() =>
        Assert.True(IdleMemoryTrimmer.ShouldTrim(0, heapNow: 501 * MiB, heapAfterLastTrim: 400 * MiB));

    [Theory]
    [InlineData(0L, 2L, 3000L, true)] // idle, nearly every connection since the last trim closed: trim without heap growth
    [InlineData(4 * MiB, 0L, 3000L, false)] // connections closed, but still allocating
    [InlineData(0L, 0L, 255L, false)] // fewer than 256 closed
    [InlineData(0L, 0L, 256L, true)] // 256 closed
    [InlineData(0L, 7501L, 10_000L, false)] // less than a quarter of many closed
    [InlineData(0L, 7500L, 10_000L, true)] // a quarter of many closed
    public void ShouldTrim_ConnectionsClosedSinceTheLastTrim_TrimsWhenIdleAndEnoughClosed(long allocated, long connectionsNow, long connectionsHigh, bool expected) =>
        Assert.Equal(expected, IdleMemoryTrimmer.ShouldTrim(allocated, heapNow: 90 * MiB, heapAfterLastTrim: 90 * MiB, connectionsNow, connectionsHigh));

    [Theory]
    [InlineData(false, 8 * MiB + 1, true)] // the GC let more than 8 MiB of young objects pile up: collect them
    [InlineData(false, 8 * MiB, false)] // not past the limit
    [InlineData(true, 500 * MiB, false)] // the GC collected on its own since the last look (request load): leave it be
    public void ShouldCollectYoung_OnlyWhenTheGcLetsYoungGarbagePileUp(bool collectedSinceLastLook, long allocatedSinceLastCollection, bool expected) =>
        Assert.Equal(expected, IdleMemoryTrimmer.ShouldCollectYoung(collectedSinceLastLook, allocatedSinceLastCollection));

    [Theory]
    [InlineData(3000L, 2990L, 0L, true)] // 3,000 streams opened and the count stood still: their handshakes are garbage
    [InlineData(3000L, 2000L, 0L, false)] // still opening
    [InlineData(255L, 255L, 0L, false)] // fewer than 256 new connections
    [InlineData(256L, 256L, 0L, true)]
    [InlineData(12_000L, 12_000L, 10_000L, false)] // 2,000 more than at the last trim: less than a quarter
    [InlineData(12_500L, 12_500L, 10_000L, true)] // a quarter more
    [InlineData(1000L, 930L, 0L, false)] // moved by 70: past the floor of 64 (a twentieth of 1,000 is 50)
    [InlineData(2000L, 1901L, 0L, true)] // moved by 99 of 2,000: less than a twentieth (100)
    public void ConnectionsSettled_TrueOnceAWaveOfNewConnectionsStopsGrowing(long now, long atLastLook, long low, bool expected) =>
        Assert.Equal(expected, IdleMemoryTrimmer.ConnectionsSettled(now, atLastLook, low));
}
