using ApiGate.Core.Quotas;

namespace ApiGate.Core.Usage;

/// <summary>
/// What one batch of usage events adds to the store besides the events themselves: one rollup delta per (minute, user,
/// key, route, status group) and one quota delta per (user, calendar month), and — once the store has added those units
/// to its quota counters (<see cref="CountOverage"/>) — the overage. Computed here, in plain C#, so every store engine
/// writes the same numbers with the same upserts. Reusable: <see cref="Clear"/> keeps the dictionaries' capacity.
/// </summary>
public sealed class UsageAggregate
{
    private readonly Dictionary<RollupKey, RollupDelta> _rollups = [];
    private readonly Dictionary<(string UserId, DateTimeOffset Period), QuotaDelta> _quota = [];
    private readonly Dictionary<(string UserId, DateTimeOffset Period, string Meter), long> _billedOverage = [];
    private readonly Dictionary<(string UserId, DateTimeOffset Period), long> _counted = [];

    /// <summary>The rollup deltas of the events added since the last <see cref="Clear"/>, at minute granularity.</summary>
    public IReadOnlyCollection<RollupDelta> Rollups => _rollups.Values;

    /// <summary>
    /// Quota units per (user, calendar month of the event) for authenticated events that cost anything, with their
    /// overage once <see cref="CountOverage"/> has run (0 before).
    /// </summary>
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
        _counted.Clear();
        CountsOverage = false;
    }

    /// <summary>True when an event of the batch can be billed as overage (<see cref="UsageEvent.OverageAbove"/> &gt; 0).</summary>
    public bool CountsOverage { get; private set; }

    /// <summary>
    /// The overage of the batch, read off the store's own counter: <paramref name="storedAfter"/> gives each (user,
    /// month)'s stored quota units after the batch's units were added, in the batch's transaction. Walking the events in
    /// the order they were queued, each one's overage is the part of its units past its <see cref="UsageEvent.OverageAbove"/>
    /// (<see cref="QuotaDecision.OverageOf"/>). Batches commit one after another on that counter, whichever instance
    /// wrote them, so a month's overage is exactly its stored units past the quota. Call once per batch, after
    /// <see cref="AddRange"/>.
    /// </summary>
    public void CountOverage(IReadOnlyList<UsageEvent> events, Func<string, DateTimeOffset, long> storedAfter)
    {
        foreach (var ((userId, period), delta) in _quota)
        {
            _counted[(userId, period)] = storedAfter(userId, period) - delta.Used;
        }

        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (e.UserId == UsageEvent.Anonymous || e.Units == 0)
            {
                continue;
            }

            var key = (e.UserId, QuotaPeriod.StartOf(e.Timestamp));
            var after = _counted[key] + e.Units;
            _counted[key] = after;
            var overage = QuotaDecision.OverageOf(after, e.OverageAbove, e.Units);
            if (overage <= 0)
            {
                continue;
            }

            var sum = _quota[key];
            _quota[key] = sum with { Overage = sum.Overage + overage };
            if (e.OverageMeter.Length > 0)
            {
                var billed = (e.UserId, key.Item2, e.OverageMeter);
                _billedOverage[billed] = _billedOverage.GetValueOrDefault(billed) + overage;
            }
        }
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
        var key = new RollupKey(MinuteOf(e.Timestamp), e.UserId, e.KeyId, e.RouteId, UsageRollup.GroupOf(e.Status));
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

        if (e.UserId != UsageEvent.Anonymous && e.Units != 0)
        {
            var period = (e.UserId, QuotaPeriod.StartOf(e.Timestamp));
            var sum = _quota.GetValueOrDefault(period);
            _quota[period] = sum with { Used = sum.Used + e.Units };
            CountsOverage |= e.OverageAbove > 0;
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

    /// <summary>One order of rollup keys for every writer: bucket, user, key, route, status group.</summary>
    public static IComparer<RollupKey> RollupOrder { get; } = Comparer<RollupKey>.Create(static (a, b) =>
    {
        var order = a.Bucket.CompareTo(b.Bucket);
        order = order != 0 ? order : string.CompareOrdinal(a.UserId, b.UserId);
        order = order != 0 ? order : string.CompareOrdinal(a.KeyId, b.KeyId);
        order = order != 0 ? order : string.CompareOrdinal(a.RouteId, b.RouteId);
        return order != 0 ? order : a.StatusGroup.CompareTo(b.StatusGroup);
    });

    /// <summary>
    /// The identity of a rollup row at minute granularity: bucket start (Unix seconds), user, key, route, status group
    /// (<see cref="UsageRollup.GroupOf"/>: the class, or an error's code).
    /// </summary>
    public readonly record struct RollupKey(long Bucket, string UserId, string KeyId, string RouteId, int StatusGroup);

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
