using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;

namespace ApiGate.Core.Usage;

/// <summary>
/// What one batch of usage events adds to the store besides the events themselves: one rollup delta per (minute, user,
/// key, route, status class) and one quota delta per (user, calendar month). Computed here, in plain C#, so every store
/// engine writes the same numbers with the same upserts. Reusable: <see cref="Clear"/> keeps the dictionaries' capacity.
/// </summary>
public sealed class UsageAggregate
{
    private readonly Dictionary<RollupKey, RollupDelta> _rollups = [];
    private readonly Dictionary<(string UserId, DateTimeOffset Period), QuotaDelta> _quota = [];
    private readonly Dictionary<(string UserId, DateTimeOffset Period, string Meter), long> _billedOverage = [];

    /// <summary>The rollup deltas of the events added since the last <see cref="Clear"/>, at minute granularity.</summary>
    public IReadOnlyCollection<RollupDelta> Rollups => _rollups.Values;

    /// <summary>Quota units per (user, calendar month of the event) for authenticated events that cost anything.</summary>
    public IEnumerable<QuotaUsage> Quota
    {
        get
        {
            foreach (var ((userId, period), delta) in _quota)
            {
                yield return new QuotaUsage(userId, period, delta.Used, delta.Overage);
            }
        }
    }

    /// <summary>
    /// Overage units to bill per (user, calendar month, meter of the plan each request was admitted on), for events whose
    /// plan reports overage to a billing meter (<see cref="UsageEvent.OverageMeter"/>).
    /// </summary>
    public IEnumerable<BilledOverage> BilledOverage
    {
        get
        {
            foreach (var ((userId, period, meter), units) in _billedOverage)
            {
                yield return new BilledOverage(userId, period, meter, units);
            }
        }
    }

    public void Clear()
    {
        _rollups.Clear();
        _quota.Clear();
        _billedOverage.Clear();
    }

    public void AddRange(IReadOnlyList<UsageEvent> events)
    {
        for (var i = 0; i < events.Count; i++)
        {
            Add(events[i]);
        }
    }

    public void Add(in UsageEvent e)
    {
        var key = new RollupKey(MinuteOf(e.Timestamp), e.UserId, e.KeyId, e.RouteId, UsageRollup.ClassOf(e.Status));
        if (!_rollups.TryGetValue(key, out var delta))
        {
            delta = new RollupDelta(key);
            _rollups.Add(key, delta);
        }

        delta.Requests++;
        delta.Units += e.Units;
        delta.RequestBytes += e.RequestBytes;
        delta.ResponseBytes += e.ResponseBytes;
        delta.LatencyMsSum += double.IsFinite(e.LatencyMs) ? e.LatencyMs : 0;
        delta.LatencyBuckets[UsageLatencyBuckets.Of(e.LatencyMs)]++;

        if (e.UserId != UsageEvent.Anonymous && (e.Units != 0 || e.OverageUnits != 0))
        {
            var period = (e.UserId, QuotaPeriod.StartOf(e.Timestamp));
            var sum = _quota.GetValueOrDefault(period);
            _quota[period] = new QuotaDelta(sum.Used + e.Units, sum.Overage + e.OverageUnits);
            if (e.OverageUnits > 0 && e.OverageMeter.Length > 0)
            {
                var billed = (e.UserId, period.Item2, e.OverageMeter);
                _billedOverage[billed] = _billedOverage.GetValueOrDefault(billed) + e.OverageUnits;
            }
        }
    }

    /// <summary>The start of the UTC minute containing <paramref name="at"/>, in Unix seconds.</summary>
    public static long MinuteOf(DateTimeOffset at) => BucketOf(at.ToUnixTimeSeconds(), UsageGranularity.Minute);

    /// <summary>The start of the bucket of width <paramref name="granularity"/> containing the Unix second <paramref name="unixSeconds"/>.</summary>
    public static long BucketOf(long unixSeconds, UsageGranularity granularity)
    {
        var width = (long)granularity;
        return unixSeconds - (((unixSeconds % width) + width) % width);
    }

    private readonly record struct QuotaDelta(long Used, long Overage);

    /// <summary>The identity of a rollup row at minute granularity: bucket start (Unix seconds), user, key, route, status class.</summary>
    public readonly record struct RollupKey(long Bucket, string UserId, string KeyId, string RouteId, int StatusClass);

    /// <summary>What a batch adds to one rollup row.</summary>
    public sealed class RollupDelta(RollupKey key)
    {
        public RollupKey Key { get; } = key;
        public long Requests { get; set; }
        public long Units { get; set; }
        public long RequestBytes { get; set; }
        public long ResponseBytes { get; set; }
        public double LatencyMsSum { get; set; }
        public long[] LatencyBuckets { get; } = new long[UsageLatencyBuckets.Count];
    }
}

/// <summary>Overage units of one batch to report to one billing meter for one user and calendar month.</summary>
public readonly record struct BilledOverage(string UserId, DateTimeOffset PeriodStart, string Meter, long Units);
