using System.Collections.Concurrent;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// Monthly usage per user (SPEC §4.2), counted in memory with atomic compare-and-swap so concurrent requests never
/// overshoot a quota or double count. The store is not written from here: every forwarded request's units travel
/// with its usage event, and the store adds them to the persisted counter in the same transaction as the event
/// (<see cref="IUsageStore.AddUsageEventsAsync"/>), so stored usage and stored quota always agree. Counters for the
/// current month are loaded from the store at start, so a restart does not reset them. Counters of months before the
/// previous one are let go (<see cref="Sweep"/>): nothing admits against them any more, and a gateway that runs for
/// years must not hold a counter for every user of every month it has seen.
/// </summary>
internal sealed class QuotaCounters(IQuotaStore store, TimeProvider timeProvider) : IQuotaLedger
{
    private readonly ConcurrentDictionary<(string UserId, DateTimeOffset Period), Counter> _counters = new();

    /// <summary>The month (its start's UTC ticks) whose first admission last let go of older counters.</summary>
    private long _sweptFor;

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var period = QuotaPeriod.StartOf(timeProvider.GetUtcNow());
        foreach (var usage in await store.LoadQuotaUsageAsync(period, cancellationToken))
        {
            var counter = _counters.GetOrAdd((usage.UserId, period), static _ => new Counter());
            Interlocked.Add(ref counter.Used, usage.Used);
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
        if (period.UtcTicks != Volatile.Read(ref _sweptFor))
        {
            // Once a month (old counters appear only when a month begins): two threads at once sweep twice, harmlessly.
            Volatile.Write(ref _sweptFor, period.UtcTicks);
            Sweep(period);
        }

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
                return new QuotaDecision(true, over, limit, used + units, reset);
            }
        }
    }

    /// <summary>
    /// Settles a forwarded request that was admitted with one unit (<paramref name="admitted"/>) and metered at
    /// <paramref name="units"/>: the difference is added (or given back), and the next request sees the new total.
    /// </summary>
    public void Settle(string userId, QuotaDecision admitted, long units)
    {
        var delta = units - 1;
        if (delta != 0 && _counters.TryGetValue((userId, admitted.ResetAt.AddMonths(-1)), out var counter))
        {
            Interlocked.Add(ref counter.Used, delta);
        }
    }

    /// <summary>Gives units back (the request was refused later, e.g. no healthy target).</summary>
    public void Refund(string userId, DateTimeOffset periodReset, long units = 1)
    {
        if (_counters.TryGetValue((userId, periodReset.AddMonths(-1)), out var counter))
        {
            Interlocked.Add(ref counter.Used, -units);
        }
    }

    /// <summary>Current usage, for headers and tests.</summary>
    public long Used(string userId) => UsedIn(userId, QuotaPeriod.StartOf(timeProvider.GetUtcNow()));

    /// <summary>Usage in the period starting at <paramref name="period"/> (tests, diagnostics).</summary>
    public long UsedIn(string userId, DateTimeOffset period) =>
        _counters.TryGetValue((userId, period), out var c) ? Volatile.Read(ref c.Used) : 0;

    /// <summary>Counters held now, of every month; for tests and diagnostics.</summary>
    internal int HeldCounters => _counters.Count;

    /// <summary>
    /// Lets go of the counters of months before the previous one. The previous month's stay, so a request admitted in
    /// its last moments still settles its metered units there (a long stream); nothing reads either month for admission.
    /// </summary>
    private void Sweep(DateTimeOffset period)
    {
        var keepFrom = period.AddMonths(-1);
        foreach (var entry in _counters)
        {
            if (entry.Key.Period < keepFrom)
            {
                _counters.TryRemove(entry);
            }
        }
    }

    private sealed class Counter
    {
        /// <summary>Settled units plus one unit for each admitted request not settled yet: what admission checks.</summary>
        public long Used;
    }
}
