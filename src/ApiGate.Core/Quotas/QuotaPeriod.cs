namespace ApiGate.Core.Quotas;

/// <summary>Quota periods are calendar months in UTC (SPEC §4.2).</summary>
public static class QuotaPeriod
{
    /// <summary>00:00 UTC on the first day of the month containing <paramref name="now"/>.</summary>
    public static DateTimeOffset StartOf(DateTimeOffset now)
    {
        var utc = now.ToUniversalTime();
        return new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero);
    }

    /// <summary>When the period containing <paramref name="now"/> resets: the start of the next month.</summary>
    public static DateTimeOffset ResetOf(DateTimeOffset now) => StartOf(now).AddMonths(1);
}

/// <summary>The outcome of a quota check for one request.</summary>
public readonly record struct QuotaDecision(bool Allowed, bool Overage, long Limit, long Used, DateTimeOffset ResetAt)
{
    /// <summary>Units left in the period (0 when over, unlimited plans report -1 as their limit).</summary>
    public long Remaining => Limit <= 0 ? -1 : Math.Max(0, Limit - Used);

    /// <summary>
    /// How many of a request's <paramref name="units"/> lie past <paramref name="limit"/> once the period's total
    /// including them is <paramref name="totalAfter"/> (0 for an unlimited plan).
    /// </summary>
    public static long OverageOf(long totalAfter, long limit, long units) =>
        limit > 0 && units > 0 ? Math.Clamp(totalAfter - limit, 0, units) : 0;
}
