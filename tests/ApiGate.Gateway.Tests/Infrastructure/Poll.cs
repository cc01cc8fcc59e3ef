using System.Diagnostics;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>Waiting for the gateway to reach a state: a bound for a stuck test (30 s), not a timing assertion.</summary>
internal static class Poll
{
    /// <summary>Polls <paramref name="condition"/> every 10 ms for at most 30 s; fails the test if it never holds.</summary>
    public static async Task UntilAsync(Func<bool> condition)
    {
        // Looked at once per round and its last answer kept: a condition with state (unchanged for so many rounds) is not
        // asked again after it held.
        var held = condition();
        for (var i = 0; i < 3000 && !held; i++)
        {
            await Task.Delay(10);
            held = condition();
        }

        Assert.True(held);
    }

    /// <summary><see cref="UntilAsync(Func{bool})"/>, failing with <paramref name="why"/>'s text (e.g. the log so far) when it never holds.</summary>
    public static Task UntilAsync(Func<bool> condition, Func<string> why) => UntilAsync(() => Task.FromResult(condition()), why);

    /// <summary><see cref="UntilAsync(Func{bool}, Func{string})"/> for a condition that reads the store or the network.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, Func<string> why)
    {
        var held = await condition();
        for (var i = 0; i < 3000 && !held; i++)
        {
            await Task.Delay(10);
            held = await condition();
        }

        Assert.True(held, held ? "" : why());
    }

    /// <summary>Whether <paramref name="condition"/> held within <paramref name="limit"/>, looked at every 50 ms (for tests that assert on it with their own message).</summary>
    public static async Task<bool> HoldsWithinAsync(Func<bool> condition, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (condition())
            {
                return true;
            }

            await Task.Delay(50);
        }

        return condition();
    }
}
