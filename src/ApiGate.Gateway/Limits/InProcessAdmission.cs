using ApiGate.Gateway.Identity;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// Admission with the state in this process (the embedded default): the key's bucket in <see cref="InProcessRateLimiter"/>,
/// then a unit of the user's quota from <see cref="QuotaCounters"/>. Always completes synchronously.
/// </summary>
internal sealed class InProcessAdmission(InProcessRateLimiter limiter, QuotaCounters quotas) : IAdmission
{
    public ValueTask<AdmissionResult> AdmitAsync(RequestIdentity caller, bool rateLimited, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Admit(limiter, quotas, caller, rateLimited));

    /// <summary>The in-process decision, also the fallback of <see cref="RedisAdmission"/> while Redis is unreachable.</summary>
    public static AdmissionResult Admit(InProcessRateLimiter limiter, QuotaCounters quotas, RequestIdentity caller, bool rateLimited)
    {
        var plan = caller.Plan;
        Core.RateLimiting.RateLimitDecision? rate = null;
        if (rateLimited)
        {
            var taken = limiter.TryTake(caller.Key.Id, plan.Bucket);
            rate = taken;
            if (!taken.Allowed)
            {
                return new AdmissionResult(AdmissionVerdict.RateLimited, rate, null, null);
            }
        }

        var limit = plan.Definition.RequestsPerMonth;
        var quota = quotas.TryConsume(caller.User.Id, limit, caller.AllowsOverage);
        return quota.Allowed
            ? new AdmissionResult(AdmissionVerdict.Admitted, rate, quota, new QuotaLease(quotas, caller.User.Id, quota))
            : new AdmissionResult(AdmissionVerdict.QuotaExceeded, rate, quota, null);
    }
}
