using System.Diagnostics.Metrics;
using ApiGate.Gateway.Observability;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// The shared (Redis) limits' state as metrics (docs/observability.md), on the <c>ApiGate</c> meter: whether Redis is
/// in use, how often it became unavailable, and how many requests the per-instance fallback admitted.
/// </summary>
internal sealed class LimitsMetrics
{
    public LimitsMetrics(IMeterFactory meterFactory, RedisAdmission redis)
    {
        var meter = meterFactory.Create(GatewayMetrics.MeterName);
        meter.CreateObservableGauge("apigate.limits.redis.available", () => redis.Available ? 1L : 0L,
            description: "1 while the shared limits in Redis answer, 0 while the gateway falls back (open) or refuses (closed).");
        meter.CreateObservableCounter("apigate.limits.redis.outages", () => redis.Outages,
            description: "Times Redis became unavailable to this instance.");
        meter.CreateObservableCounter("apigate.limits.fallback.admissions", () => redis.FallbackAdmissions,
            description: "Requests decided by this instance's own buckets and counters while Redis was unavailable.");
    }
}
