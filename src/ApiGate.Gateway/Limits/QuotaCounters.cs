using System.Collections.Concurrent;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// Monthly usage per user (SPEC §4.2), counted in memory with atomic compare-and-swap so concurrent requests never
/// overshoot a quota or double count, and persisted as deltas in batches by <see cref="UsageFlusher"/>. Counters
/// for the current month are loaded from the store at start, so a restart does not reset them.
/// </summary>
internal sealed class QuotaCounters(IQuotaStore store, TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<(string UserId, DateTimeOffset Period), Counter> _counters = new();

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var period = QuotaPeriod.StartOf(timeProvider.GetUtcNow());
        foreach (var usage in await store.LoadQuotaUsageAsync(period, cancellationToken))
        {
            var counter = _counters.GetOrAdd((usage.UserId, period), static _ => new Counter());
            Interlocked.Add(ref counter.Used, usage.Used);
            Interlocked.Add(ref counter.Overage, usage.Overage);
        }
    }

    /// <summary>
    /// Takes <paramref name="units"/> from the user's quota. Over the limit: refused, unless overage is allowed, in
    /// which case it is taken and counted as overage. <paramref name="limit"/> 0 = unlimited (counted, never refused).
    /// </summary>
    public QuotaDecision TryConsume(string userId, long limit, bool allowOverage, long units = 1)
    {
        var now = timeProvider.GetUtcNow();
        var period = QuotaPeriod.StartOf(now);
        var reset = period.AddMonths(1);
        var counter = _counters.GetOrAdd((userId, period), static _ => new Counter());
        while (true)
        {
            var used = Volatile.Read(ref counter.Used);
            var over = limit > 0 && used + units > limit;
            if (over && !allowOverage)
            {
                return new QuotaDecision(false, false, limit, used, reset);
            }

            if (Interlocked.CompareExchange(ref counter.Used, used + units, used) == used)
            {
                Interlocked.Add(ref counter.PendingUsed, units);
                if (over)
                {
                    var overageUnits = Math.Min(units, used + units - limit);
                    Interlocked.Add(ref counter.Overage, overageUnits);
                    Interlocked.Add(ref counter.PendingOverage, overageUnits);
                }

                return new QuotaDecision(true, over, limit, used + units, reset);
            }
        }
    }

    /// <summary>
    /// Adds <paramref name="delta"/> units after the fact (metered units beyond the one taken at admission, or fewer);
    /// units past <paramref name="limit"/> count as overage. The next request sees the new total.
    /// </summary>
    public void Adjust(string userId, long delta, long limit)
    {
        if (delta == 0)
        {
            return;
        }

        var period = QuotaPeriod.StartOf(timeProvider.GetUtcNow());
        var counter = _counters.GetOrAdd((userId, period), static _ => new Counter());
        var after = Interlocked.Add(ref counter.Used, delta);
        Interlocked.Add(ref counter.PendingUsed, delta);
        if (limit > 0 && delta > 0 && after > limit)
        {
            var overage = Math.Min(delta, after - limit);
            Interlocked.Add(ref counter.Overage, overage);
            Interlocked.Add(ref counter.PendingOverage, overage);
        }
    }

    /// <summary>Gives units back (the request was refused later, e.g. by the rate limit).</summary>
    public void Refund(string userId, DateTimeOffset periodReset, bool overage, long units = 1)
    {
        if (_counters.TryGetValue((userId, periodReset.AddMonths(-1)), out var counter))
        {
            Interlocked.Add(ref counter.Used, -units);
            Interlocked.Add(ref counter.PendingUsed, -units);
            if (overage)
            {
                Interlocked.Add(ref counter.Overage, -units);
                Interlocked.Add(ref counter.PendingOverage, -units);
            }
        }
    }

    /// <summary>Current usage, for headers and tests.</summary>
    public long Used(string userId) =>
        _counters.TryGetValue((userId, QuotaPeriod.StartOf(timeProvider.GetUtcNow())), out var c) ? Volatile.Read(ref c.Used) : 0;

    /// <summary>Takes the deltas not yet persisted.</summary>
    public List<QuotaUsage> DrainPending()
    {
        var deltas = new List<QuotaUsage>();
        foreach (var ((userId, period), counter) in _counters)
        {
            var used = Interlocked.Exchange(ref counter.PendingUsed, 0);
            var overage = Interlocked.Exchange(ref counter.PendingOverage, 0);
            if (used != 0 || overage != 0)
            {
                deltas.Add(new QuotaUsage(userId, period, used, overage));
            }
        }

        return deltas;
    }

    /// <summary>Puts deltas back after a failed write, so the next flush retries them.</summary>
    public void Restore(IEnumerable<QuotaUsage> deltas)
    {
        foreach (var delta in deltas)
        {
            var counter = _counters.GetOrAdd((delta.UserId, delta.PeriodStart), static _ => new Counter());
            Interlocked.Add(ref counter.PendingUsed, delta.Used);
            Interlocked.Add(ref counter.PendingOverage, delta.Overage);
        }
    }

    private sealed class Counter
    {
        public long Used;
        public long Overage;
        public long PendingUsed;
        public long PendingOverage;
    }
}
