namespace ApiGate.Core.Timing;

/// <summary>
/// Lets a piece of housekeeping run at most once per <see cref="Interval"/> (sweeping expired rows at a sign-in, say),
/// whichever thread gets there first; the first call is always due. Thread-safe, no lock.
/// </summary>
public sealed class OncePer(TimeSpan interval)
{
    private long _lastTicks = long.MinValue;

    public TimeSpan Interval { get; } = interval;

    /// <summary>True for exactly one caller once <see cref="Interval"/> has passed since the last true.</summary>
    public bool Due(DateTimeOffset now)
    {
        var last = Interlocked.Read(ref _lastTicks);
        return (last == long.MinValue || now.UtcTicks - last >= Interval.Ticks)
            && Interlocked.CompareExchange(ref _lastTicks, now.UtcTicks, last) == last;
    }
}
