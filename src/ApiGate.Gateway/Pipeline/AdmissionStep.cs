using System.Globalization;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Limits;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// Admission (SPEC §1 steps 2.3–2.4): the key's token bucket, then the user's monthly quota, taken as a
/// <see cref="QuotaLease"/>. The rate limit decides first, so a client over its rate is told to slow down (429) even
/// when its quota is also used up, and takes no quota unit. The lease is settled by <see cref="MeterStep"/> with the
/// metered units; if the request never got that far, this step releases it as the request unwinds.
/// </summary>
internal sealed class AdmissionStep(InProcessRateLimiter limiter, QuotaCounters quotas, GatewayOptions options) : ICompletingStep
{
    public ValueTask<bool> InvokeAsync(GatewayRequest request)
    {
        if (request.Caller is not { } caller)
        {
            return ValueTask.FromResult(true);
        }

        var plan = caller.Plan;
        if (options.RateLimitEnabled && plan.RateLimited)
        {
            var rate = limiter.TryTake(caller.Key.Id, plan.Bucket);
            request.RateLimit = rate;
            if (!rate.Allowed)
            {
                var seconds = (long)Math.Max(1, Math.Ceiling(rate.RetryAfter.TotalSeconds));
                request.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                return request.RejectAsync(new GatewayError(429, "rate_limit_exceeded", "Too Many Requests",
                    $"Rate limit exceeded. Retry after {seconds} seconds."));
            }
        }

        var quota = quotas.TryConsume(caller.User.Id, plan.Definition.RequestsPerMonth, plan.AllowsOverage);
        request.Quota = quota;
        if (!quota.Allowed)
        {
            return request.RejectAsync(new GatewayError(402, "quota_exceeded", "Payment Required",
                $"Monthly quota of {quota.Limit} used up; it resets at {quota.ResetAt.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}."));
        }

        request.Lease = new QuotaLease(quotas, caller.User.Id, plan.Definition.RequestsPerMonth, quota);
        return ValueTask.FromResult(true);
    }

    /// <summary>A lease nobody committed (refused after admission, before the exchange) is released: nothing is billed.</summary>
    public void OnCompleted(GatewayRequest request) => request.Lease?.Release();
}
