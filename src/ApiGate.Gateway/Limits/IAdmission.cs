using ApiGate.Core.Quotas;
using ApiGate.Core.RateLimiting;
using ApiGate.Gateway.Identity;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// Admission of one authenticated request (SPEC §4): the key's token bucket and the user's monthly quota, decided
/// together, the quota held as a <see cref="QuotaLease"/> that the meter settles once after the exchange. In process
/// (<see cref="InProcessAdmission"/>, the embedded default, synchronous) or in Redis (<see cref="RedisAdmission"/>, one
/// atomic script per request, shared by every instance).
/// </summary>
internal interface IAdmission
{
    /// <summary>Decides the request; <paramref name="rateLimited"/> false skips the bucket (rate limiting off, or a plan without a rate).</summary>
    ValueTask<AdmissionResult> AdmitAsync(RequestIdentity caller, bool rateLimited, CancellationToken cancellationToken);
}

/// <summary>How an admission ended.</summary>
internal enum AdmissionVerdict
{
    /// <summary>Let through; the result carries the quota lease.</summary>
    Admitted,

    /// <summary>The key's bucket is empty: 429.</summary>
    RateLimited,

    /// <summary>The user's monthly quota is used up and the plan has no overage: 402.</summary>
    QuotaExceeded,

    /// <summary>The shared limit state cannot be reached and the gateway fails closed: 503 limits_unavailable.</summary>
    Unavailable,
}

/// <summary>The outcome of <see cref="IAdmission.AdmitAsync"/>: the decisions taken (for the X-RateLimit-* and X-Quota-* headers) and the lease when admitted.</summary>
internal readonly record struct AdmissionResult(AdmissionVerdict Verdict, RateLimitDecision? RateLimit, QuotaDecision? Quota, QuotaLease? Lease)
{
    public static AdmissionResult LimitsUnavailable => new(AdmissionVerdict.Unavailable, null, null, null);
}

/// <summary>Where a <see cref="QuotaLease"/> settles: the counter that admitted it.</summary>
internal interface IQuotaLedger
{
    /// <summary>
    /// Settles a request admitted with one unit (<paramref name="admitted"/>) and metered at <paramref name="units"/>:
    /// the difference is added (or given back), so the next admission sees it.
    /// </summary>
    void Settle(string userId, QuotaDecision admitted, long units);

    /// <summary>Gives units back (the request reached no backend).</summary>
    void Refund(string userId, DateTimeOffset periodReset, long units = 1);
}
