using ApiGate.Core.Storage;

namespace ApiGate.Core.Management;

/// <summary>
/// How long an update that lost a race for its row waits before it reads the row again
/// (<see cref="Outcomes.RetryWhenChangedAsync{T}"/>): a random time up to a bound that doubles with each attempt, so
/// updates of one row sent at once spread out instead of colliding again at the same moment: 4, 8, 16, 32, 64, then
/// 128 ms, at most 892 ms in all.
/// </summary>
/// <param name="timeProvider">The clock the waits run on (not the one that stamps rows, which tests may stop).</param>
/// <param name="random">A number in [0, 1) per wait.</param>
public sealed class ConflictBackOff(TimeProvider timeProvider, Func<double> random)
{
    /// <summary>Attempts of one update before it is refused as a conflict.</summary>
    public const int Attempts = 12;

    /// <summary>The bound of the wait before the second attempt; each later one doubles it, up to <see cref="MaxBound"/>.</summary>
    public static readonly TimeSpan FirstBound = TimeSpan.FromMilliseconds(4);

    /// <summary>The bound no wait exceeds.</summary>
    public static readonly TimeSpan MaxBound = TimeSpan.FromMilliseconds(128);

    /// <summary>Waits on the system clock with a shared random source.</summary>
    public static ConflictBackOff Default { get; } = new(TimeProvider.System, Random.Shared.NextDouble);

    /// <summary>The bound of the wait before <paramref name="attempt"/> (2 to <see cref="Attempts"/>).</summary>
    public static TimeSpan BoundBefore(int attempt) => TimeSpan.FromTicks(Math.Min(MaxBound.Ticks, FirstBound.Ticks << (attempt - 2)));

    /// <summary>
    /// Runs <paramref name="attempt"/>, and again after a wait each time it loses the race for its row
    /// (<see cref="StoreChangedMeanwhileException"/>), up to <see cref="Attempts"/> times in all; then the last such
    /// exception escapes. Every update that reads a row and writes it back on condition retries through here.
    /// </summary>
    public async Task<T> RetryWhenChangedAsync<T>(Func<Task<T>> attempt, CancellationToken cancellationToken)
    {
        for (var i = 1; ; i++)
        {
            try
            {
                return await attempt();
            }
            catch (StoreChangedMeanwhileException) when (i < Attempts)
            {
                // Read it again and apply the change to what is there now; at once, the requests that lost to the same
                // write would meet again and all but one lose again.
                await WaitBeforeAsync(i + 1, cancellationToken);
            }
        }
    }

    /// <summary>Waits before <paramref name="attempt"/> (2 to <see cref="Attempts"/>).</summary>
    public Task WaitBeforeAsync(int attempt, CancellationToken cancellationToken) =>
        Task.Delay(BoundBefore(attempt) * random(), timeProvider, cancellationToken);
}
