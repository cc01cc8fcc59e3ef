using ApiGate.Core.Usage;

namespace ApiGate.Web.Admin;

/// <summary>Percentiles read from a latency histogram (<see cref="UsageLatencyBuckets"/>): the upper bound of the bucket holding the rank.</summary>
public static class LatencyPercentiles
{
    /// <summary>
    /// The latency in milliseconds at quantile <paramref name="q"/> (0.5 = p50) of the histogram, as the upper bound of
    /// the bucket where the cumulative count first reaches q × total; in the last, open bucket (beyond the largest bound)
    /// it is positive infinity.
    /// Null when the histogram is empty.
    /// </summary>
    public static double? Of(IReadOnlyList<long> buckets, double q)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(q, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(q, 1);
        long total = 0;
        for (var i = 0; i < buckets.Count; i++)
        {
            total += buckets[i];
        }

        if (total == 0)
        {
            return null;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(q * total));
        long cumulative = 0;
        var bounds = UsageLatencyBuckets.UpperBoundsMs;
        for (var i = 0; i < buckets.Count; i++)
        {
            cumulative += buckets[i];
            if (cumulative >= rank)
            {
                return i < bounds.Length ? bounds[i] : double.PositiveInfinity;
            }
        }

        return double.PositiveInfinity;
    }

    /// <summary>Adds <paramref name="from"/> into <paramref name="into"/> bucket by bucket.</summary>
    public static void Add(long[] into, IReadOnlyList<long> from)
    {
        for (var i = 0; i < into.Length && i < from.Count; i++)
        {
            into[i] += from[i];
        }
    }
}
