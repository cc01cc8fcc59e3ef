using System.Globalization;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Limits;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// SPEC §1 step 2.4: the monthly quota (per user). Over it → 402, unless the plan bills overage. Runs after the rate
/// limit, so a request the rate limit refuses never takes (or is refused for) a quota unit.
/// </summary>
internal sealed class QuotaStep(QuotaCounters quotas) : IRequestStep
{
    public ValueTask<bool> InvokeAsync(GatewayRequest request)
    {
        if (request.Caller is not { } caller)
        {
            return ValueTask.FromResult(true);
        }

        var plan = caller.Plan;
        var decision = quotas.TryConsume(caller.User.Id, plan.Definition.RequestsPerMonth, plan.AllowsOverage);
        request.Quota = decision;
        if (decision.Allowed)
        {
            return ValueTask.FromResult(true);
        }

        return request.RejectAsync(new GatewayError(402, "quota_exceeded", "Payment Required",
            $"Monthly quota of {decision.Limit} used up; it resets at {decision.ResetAt.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}."));
    }
}

/// <summary>
/// SPEC §1 step 2.3: the token bucket (per key). Empty → 429 with Retry-After. Decides before the quota: a client
/// over its rate is told to slow down (429) even when its quota is also used up, and takes no quota unit.
/// </summary>
internal sealed class RateLimitStep(InProcessRateLimiter limiter, GatewayOptions options) : IRequestStep
{
    public ValueTask<bool> InvokeAsync(GatewayRequest request)
    {
        if (request.Caller is not { } caller || !options.RateLimitEnabled || !caller.Plan.RateLimited)
        {
            return ValueTask.FromResult(true);
        }

        var decision = limiter.TryTake(caller.Key.Id, caller.Plan.Bucket);
        request.RateLimit = decision;
        if (decision.Allowed)
        {
            return ValueTask.FromResult(true);
        }

        var headers = request.HttpContext.Response.Headers;
        var seconds = (long)Math.Max(1, Math.Ceiling(decision.RetryAfter.TotalSeconds));
        headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        return request.RejectAsync(new GatewayError(429, "rate_limit_exceeded", "Too Many Requests",
            $"Rate limit exceeded. Retry after {seconds} seconds."));
    }
}
