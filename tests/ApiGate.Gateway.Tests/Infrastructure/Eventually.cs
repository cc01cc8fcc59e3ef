using System.Diagnostics;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>Polls a condition about background work until it holds or a generous limit passes (never a timing assertion).</summary>
internal static class Eventually
{
    /// <summary>Whether <paramref name="condition"/> held within <paramref name="limit"/>, looked at every 50 ms.</summary>
    public static Task<bool> TrueAsync(Func<bool> condition, TimeSpan limit) => TrueAsync(() => Task.FromResult(condition()), limit);

    /// <inheritdoc cref="TrueAsync(Func{bool}, TimeSpan)"/>
    public static async Task<bool> TrueAsync(Func<Task<bool>> condition, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < limit)
        {
            if (await condition())
            {
                return true;
            }

            await Task.Delay(50);
        }

        return await condition();
    }
}
