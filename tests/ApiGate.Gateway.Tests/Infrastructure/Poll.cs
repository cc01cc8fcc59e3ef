namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>Waiting for the gateway to reach a state: a bound for a stuck test (30 s), not a timing assertion.</summary>
internal static class Poll
{
    /// <summary>Polls <paramref name="condition"/> every 10 ms for at most 30 s; fails the test if it never holds.</summary>
    public static async Task UntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 3000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }

    /// <summary><see cref="UntilAsync(Func{bool})"/>, failing with <paramref name="why"/>'s text (e.g. the log so far) when it never holds.</summary>
    public static async Task UntilAsync(Func<bool> condition, Func<string> why)
    {
        for (var i = 0; i < 3000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), why());
    }
}
