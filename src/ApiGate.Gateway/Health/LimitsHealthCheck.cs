using ApiGate.Gateway.Limits;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ApiGate.Gateway.Health;

/// <summary>
/// Readiness of the shared limits (registered only with <c>APIGATE_REDIS_URL</c>): healthy while Redis answers,
/// degraded while it does not — the instance keeps serving (open: per-instance limits; closed: 503
/// limits_unavailable on authenticated routes), so <c>/health/ready</c> stays 200 with <c>"status":"degraded"</c>:
/// taking every instance out of a load balancer at once for a shared dependency would turn a limits outage into a
/// full one. Data: <c>state</c> = <c>redis</c>, <c>fallback</c> (open) or <c>unavailable</c> (closed).
/// </summary>
internal sealed class LimitsHealthCheck(RedisAdmission redis) : IHealthCheck
{
    public const string Name = "limits";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (redis.Available)
        {
            return Task.FromResult(HealthCheckResult.Healthy(data: new Dictionary<string, object> { ["state"] = "redis" }));
        }

        var state = redis.FailsOpen ? "fallback" : "unavailable";
        return Task.FromResult(HealthCheckResult.Degraded($"Redis at {redis.Endpoint} is unavailable", data: new Dictionary<string, object> { ["state"] = state }));
    }
}
