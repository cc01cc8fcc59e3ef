using ApiGate.Core.Quotas;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// One request's hold on its user's monthly quota: taken at admission with one unit, settled exactly once when the
/// exchange is over — committed with the units the request was metered at, or released when it reached no backend.
/// Settling twice is a no-op, so every path (success, upstream error, retry, timeout, client abort, a refusal after
/// admission) ends with the counter right.
/// </summary>
internal sealed class QuotaLease(IQuotaLedger counters, string userId, QuotaDecision admitted)
{
    private int _settled;

    /// <summary>The admission decision (what the X-Quota-* headers report).</summary>
    public QuotaDecision Admitted { get; } = admitted;

    /// <summary>
    /// The time a usage event of this request is recorded at, from <paramref name="meteredFrom"/> (when metering began,
    /// just after admission): kept inside the month whose quota admitted the request. If the clock passed midnight on
    /// the 1st between the two, the event is dated the last tick of that month instead, so the store counts the units
    /// in the month the counters in memory (or in Redis) settled them in, and a restart seeded from the store agrees.
    /// </summary>
    public DateTimeOffset RecordedAt(DateTimeOffset meteredFrom) =>
        meteredFrom < Admitted.ResetAt ? meteredFrom : Admitted.ResetAt.AddTicks(-1);

    /// <summary>True once committed or released.</summary>
    public bool Settled => Volatile.Read(ref _settled) != 0;

    /// <summary>
    /// Replaces the admitted unit by the metered <paramref name="units"/>. The overage is not decided here: the usage
    /// event carries the units and the admitted limit, and the store reads the overage off its counter (UsageAggregate.CountOverage).
    /// </summary>
    public void Commit(long units)
    {
        if (Interlocked.Exchange(ref _settled, 1) == 0)
        {
            counters.Settle(userId, Admitted, units);
        }
    }

    /// <summary>Gives the admitted unit back: nothing reached a backend, nothing is billed.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _settled, 1) == 0)
        {
            counters.Refund(userId, Admitted.ResetAt);
        }
    }
}
