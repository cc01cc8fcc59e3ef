namespace ApiGate.Core.Usage;

/// <summary>
/// The fixed latency histogram of usage rollups: bucket <c>i</c> counts requests with latency ≤ <see cref="UpperBoundsMs"/>[i]
/// (and above the previous bound); the last bucket counts everything slower. Fixed, so rollups of any age and any
/// instance add up column by column.
/// </summary>
public static class UsageLatencyBuckets
{
    /// <summary>Upper bounds in milliseconds of every bucket but the last (which is unbounded).</summary>
    public static readonly double[] UpperBoundsMs = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

    /// <summary>Number of buckets: the bounded ones and the last, unbounded one.</summary>
    public const int Count = 12;

    /// <summary>The bucket a latency falls in (NaN and negative values count in the first).</summary>
    public static int Of(double latencyMs)
    {
        var bounds = UpperBoundsMs;
        for (var i = 0; i < bounds.Length; i++)
        {
            if (!(latencyMs > bounds[i]))
            {
                return i;
            }
        }

        return Count - 1;
    }
}
