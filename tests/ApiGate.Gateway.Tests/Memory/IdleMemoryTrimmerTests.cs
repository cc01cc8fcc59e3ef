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

    [Fact]
    public void ShouldTrim_IdleAndMostConnectionsSinceTheLastTrimClosed_TrueEvenWithoutHeapGrowth() =>
        Assert.True(IdleMemoryTrimmer.ShouldTrim(0, heapNow: 90 * MiB, heapAfterLastTrim: 90 * MiB, connectionsNow: 2, connectionsHigh: 3000));

    [Fact]
    public void ShouldTrim_ConnectionsClosedButStillAllocating_False() =>
        Assert.False(IdleMemoryTrimmer.ShouldTrim(4 * MiB, heapNow: 90 * MiB, heapAfterLastTrim: 90 * MiB, connectionsNow: 0, connectionsHigh: 3000));

    [Fact]
    public void ShouldTrim_FewerThan256ConnectionsClosed_False() =>
        Assert.False(IdleMemoryTrimmer.ShouldTrim(0, heapNow: 90 * MiB, heapAfterLastTrim: 90 * MiB, connectionsNow: 0, connectionsHigh: 255));

    [Fact]
    public void ShouldTrim_256ConnectionsClosed_True() =>
        Assert.True(IdleMemoryTrimmer.ShouldTrim(0, heapNow: 90 * MiB, heapAfterLastTrim: 90 * MiB, connectionsNow: 0, connectionsHigh: 256));

    [Fact]
    public void ShouldTrim_LessThanAQuarterOfManyConnectionsClosed_False() =>
        Assert.False(IdleMemoryTrimmer.ShouldTrim(0, heapNow: 90 * MiB, heapAfterLastTrim: 90 * MiB, connectionsNow: 7501, connectionsHigh: 10_000));

    [Fact]
    public void ShouldTrim_AQuarterOfManyConnectionsClosed_True() =>
        Assert.True(IdleMemoryTrimmer.ShouldTrim(0, heapNow: 90 * MiB, heapAfterLastTrim: 90 * MiB, connectionsNow: 7500, connectionsHigh: 10_000));
}
