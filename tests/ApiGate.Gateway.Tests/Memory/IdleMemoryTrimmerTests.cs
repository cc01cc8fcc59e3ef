using ApiGate.Gateway.Memory;

namespace ApiGate.Gateway.Tests.Memory;

public sealed class IdleMemoryTrimmerTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void ShouldTrim_IdleAndCommittedGrewPastSlack_True() =>
        Assert.True(IdleMemoryTrimmer.ShouldTrim(allocatedSinceLastLook: 1 * MiB, committedNow: 200 * MiB, committedAfterLastTrim: 60 * MiB));

    [Fact]
    public void ShouldTrim_StillAllocating_False() =>
        Assert.False(IdleMemoryTrimmer.ShouldTrim(allocatedSinceLastLook: 4 * MiB, committedNow: 200 * MiB, committedAfterLastTrim: 60 * MiB));

    [Fact]
    public void ShouldTrim_GrowthBelowSixteenMiB_False() =>
        Assert.False(IdleMemoryTrimmer.ShouldTrim(0, committedNow: 36 * MiB, committedAfterLastTrim: 20 * MiB));

    [Fact]
    public void ShouldTrim_GrowthJustPastSixteenMiB_True() =>
        Assert.True(IdleMemoryTrimmer.ShouldTrim(0, committedNow: 36 * MiB + 1, committedAfterLastTrim: 20 * MiB));

    [Fact]
    public void ShouldTrim_GrowthBelowAQuarterOfALargeBaseline_False() =>
        Assert.False(IdleMemoryTrimmer.ShouldTrim(0, committedNow: 500 * MiB, committedAfterLastTrim: 400 * MiB));

    [Fact]
    public void ShouldTrim_GrowthAboveAQuarterOfALargeBaseline_True() =>
        Assert.True(IdleMemoryTrimmer.ShouldTrim(0, committedNow: 501 * MiB, committedAfterLastTrim: 400 * MiB));
}
