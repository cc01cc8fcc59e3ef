using ApiGate.Core.Timing;

namespace ApiGate.Core.Tests.Timing;

public sealed class OncePerTests
{
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Due_FirstCallThenWithinAndAfterTheInterval_TrueFalseTrue()
    {
        var gate = new OncePer(TimeSpan.FromMinutes(1));

        var first = gate.Due(T0);
        var within = gate.Due(T0.AddSeconds(59));
        var after = gate.Due(T0.AddMinutes(1));

        Assert.Equal((true, false, true), (first, within, after));
    }

    [Fact]
    public void Due_ManyThreadsAtTheSameMoment_ExactlyOneTrue()
    {
        var gate = new OncePer(TimeSpan.FromHours(1));

        var results = new bool[64];
        Parallel.For(0, results.Length, i => results[i] = gate.Due(T0));

        Assert.Equal(1, results.Count(r => r));
    }
}
