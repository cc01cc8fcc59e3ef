namespace ApiGate.Core.Upstreams;

/// <summary>What one gateway instance last reported about one target.</summary>
public sealed record TargetHealthReport
{
    /// <summary>The reporting gateway process (host name, process id and a random suffix).</summary>
    public required string InstanceId { get; init; }
    public required string UpstreamId { get; init; }
    public required string TargetUrl { get; init; }

    /// <summary><c>healthy</c>, <c>unhealthy</c>, <c>ejected</c> or <c>trial</c>.</summary>
    public required string State { get; init; }

    /// <summary>When the target entered <see cref="State"/>.</summary>
    public DateTimeOffset Since { get; init; }

    /// <summary>Why (the last probe's or request's failure, or how it recovered).</summary>
    public string Reason { get; init; } = "";

    /// <summary>
    /// When the instance last wrote or refreshed this row: a running instance refreshes it every
    /// <see cref="ReportedTargetHealth.HeartbeatInterval"/>, so an old value means the instance is gone.
    /// </summary>
    public DateTimeOffset ReportedAt { get; init; }

    /// <summary>
    /// Set by readers (<see cref="ReportedTargetHealth.Merge"/>) when <see cref="ReportedAt"/> is older than
    /// <see cref="ReportedTargetHealth.StaleAfter"/>: the instance stopped refreshing the row (it probably
    /// crashed), so the state shown may no longer hold. Not stored.
    /// </summary>
    public bool Stale { get; init; }
}
