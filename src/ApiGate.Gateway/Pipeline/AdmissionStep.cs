using System.Globalization;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Limits;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// Admission (SPEC §1 steps 2.3–2.4): the key's token bucket, then the user's monthly quota, taken as a
/// <see cref="QuotaLease"/> by one <see cref="IAdmission"/> call (in process, or one Redis script). The rate limit decides
/// first, so a client over its rate is told to slow down (429) even when its quota is also used up, and takes no quota
/// unit. The lease is settled by <see cref="MeterStep"/> with the metered units; if the request never got that far, this
/// step releases it as the request unwinds. Synchronous when the admission is (in process).
/// </summary>
internal sealed class AdmissionStep(IAdmission admission, GatewayOptions options) : ICompletingStep
{
    public static readonly GatewayError LimitsUnavailable =
        new(503, "limits_unavailable", "Service Unavailable", "Rate limits and quotas cannot be checked right now; try again shortly.");

    public ValueTask<bool> InvokeAsync(GatewayRequest request)
    {
        if (request.Caller is not { } caller)
        {
            return ValueTask.FromResult(true);
        }

        var pending = admission.AdmitAsync(caller, options.RateLimitEnabled && caller.Plan.RateLimited, request.HttpContext.RequestAborted);
        return pending.IsCompletedSuccessfully ? Apply(request, pending.Result) : AwaitAsync(request, pending);
    }

    /// <summary>A lease nobody committed (refused after admission, before the exchange) is released: nothing is billed.</summary>
    public void OnCompleted(GatewayRequest request) => request.Lease?.Release();

    private static async ValueTask<bool> AwaitAsync(GatewayRequest request, ValueTask<AdmissionResult> pending) =>
        await Apply(request, await pending);

    private static ValueTask<bool> Apply(GatewayRequest request, AdmissionResult result)
    {
        request.RateLimit = result.RateLimit;
        request.Quota = result.Quota;
        switch (result.Verdict)
        {
            case AdmissionVerdict.Admitted:
                request.Lease = result.Lease;
                return ValueTask.FromResult(true);
            case AdmissionVerdict.RateLimited:
                var seconds = (long)Math.Max(1, Math.Ceiling(result.RateLimit!.Value.RetryAfter.TotalSeconds));
                request.HttpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                return request.RejectAsync(new GatewayError(429, "rate_limit_exceeded", "Too Many Requests",
                    $"Rate limit exceeded. Retry after {seconds} second{(seconds == 1 ? "" : "s")}."));
            case AdmissionVerdict.QuotaExceeded:
                var quota = result.Quota!.Value;
                return request.RejectAsync(new GatewayError(402, "quota_exceeded", "Payment Required",
                    $"Monthly quota of {quota.Limit} used up; it resets at {quota.ResetAt.UtcDateTime:yyyy-MM-ddTHH:mm:ssZ}."));
            default:
                return request.RejectAsync(LimitsUnavailable);
        }
    }
}
