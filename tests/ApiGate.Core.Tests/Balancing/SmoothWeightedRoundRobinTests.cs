using ApiGate.Core.Balancing;

namespace ApiGate.Core.Tests.Balancing;

public sealed class SmoothWeightedRoundRobinTests
{
    [Theory]
    [InlineData(new[] { 1, 1, 1 })]
    [InlineData(new[] { 1, 2, 3 })]
    [InlineData(new[] { 5, 1, 1 })]
    [InlineData(new[] { 1000, 7, 3 })]
    public void Schedule_OneCycle_GivesEachTargetExactlyItsWeightShare(int[] weights)
    {
        var schedule = SmoothWeightedRoundRobin.Schedule(weights);

        var total = weights.Sum();
        Assert.Equal(total, schedule.Length);
        for (var i = 0; i < weights.Length; i++)
        {
            Assert.Equal(weights[i], schedule.Count(s => s == i));
        }
    }

    [Fact]
    public void Schedule_HeavyTarget_IsInterleavedNotBunched()
    {
        var schedule = SmoothWeightedRoundRobin.Schedule([5, 1, 1]);

        Assert.Equal([0, 0, 1, 0, 2, 0, 0], schedule);
    }

    [Fact]
    public void Schedule_CommonDivisor_ShortensTheCycle()
    {
        var schedule = SmoothWeightedRoundRobin.Schedule([200, 400]);

        Assert.Equal(3, schedule.Length);
        Assert.Equal(2, schedule.Count(s => s == 1));
    }
}
