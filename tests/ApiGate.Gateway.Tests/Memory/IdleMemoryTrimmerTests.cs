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
}
