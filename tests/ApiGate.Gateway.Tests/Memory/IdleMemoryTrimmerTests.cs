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
}
