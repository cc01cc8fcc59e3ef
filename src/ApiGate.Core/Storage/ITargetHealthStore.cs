namespace ApiGate.Core.Storage;

/// <summary>
/// Where running gateways publish the health of upstream targets, so the CLI (often another process) can show it.
/// Written only when a target's state changes, never per request; not configuration, so it does not bump the config
/// version.
/// </summary>
public interface ITargetHealthStore
{
    /// <summary>Inserts or replaces the given reports, keyed by instance, upstream and target URL.</summary>
    Task ReportTargetHealthAsync(IReadOnlyList<TargetHealthReport> reports, CancellationToken cancellationToken);

    /// <summary>Deletes one instance's reports: all of them, or those of one target when both are given.</summary>
    Task DeleteTargetHealthAsync(string instanceId, string? upstreamId, string? targetUrl, CancellationToken cancellationToken);

    /// <summary>
    /// The heartbeat of a running instance: sets <c>reported_at</c> of all its rows to <paramref name="reportedAt"/> in
    /// one statement. Returns how many rows it has.
    /// </summary>
    Task<int> TouchTargetHealthAsync(string instanceId, DateTimeOffset reportedAt, CancellationToken cancellationToken);

    /// <summary>Deletes every instance's rows not refreshed since <paramref name="cutoff"/> (left by stopped or crashed instances).</summary>
    Task<int> DeleteTargetHealthReportedBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken);

    /// <summary>Every instance's reports about one upstream's targets.</summary>
    Task<IReadOnlyList<TargetHealthReport>> ListTargetHealthAsync(string upstreamId, CancellationToken cancellationToken);
}

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
    /// <see cref="Upstreams.ReportedTargetHealth.HeartbeatInterval"/>, so an old value means the instance is gone.
    /// </summary>
    public DateTimeOffset ReportedAt { get; init; }

    /// <summary>
    /// Set by readers (<see cref="Upstreams.ReportedTargetHealth.Merge"/>) when <see cref="ReportedAt"/> is older than
    /// <see cref="Upstreams.ReportedTargetHealth.StaleAfter"/>: the instance stopped refreshing the row (it probably
    /// crashed), so the state shown may no longer hold. Not stored.
    /// </summary>
    public bool Stale { get; init; }
}
