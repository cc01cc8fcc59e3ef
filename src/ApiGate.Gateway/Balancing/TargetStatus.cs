namespace ApiGate.Gateway.Balancing;

/// <summary>
/// A point-in-time copy of one target's runtime state, for metrics (<c>apigate_upstream_target_healthy</c>, per-target
/// request counts) and diagnostics. See <see cref="TargetRegistry.Statuses"/>.
/// </summary>
internal sealed record TargetStatus(
    string UpstreamId,
    string Url,
    int Weight,
    TargetHealth Health,
    DateTimeOffset Since,
    string Reason,
    int ConsecutiveFailures,
    int InFlight,
    long RequestsTotal,
    long FailuresTotal)
{
    /// <summary>1 when the target takes ordinary traffic, else 0 (the gauge's value).</summary>
    public int HealthyValue => Health == TargetHealth.Healthy ? 1 : 0;
}
