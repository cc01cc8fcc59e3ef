namespace ApiGate.Gateway.Balancing;

/// <summary>
/// A point-in-time copy of one target's runtime state, for diagnostics and the store's target-health rows. See
/// <see cref="TargetRegistry.Statuses"/>.
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
    /// <summary>1 when the target takes ordinary traffic, else 0 (as <c>apigate_upstream_target_healthy</c> reports it).</summary>
    public int HealthyValue => Health == TargetHealth.Healthy ? 1 : 0;
}
