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

    /// <summary>When the instance wrote this row; an old value with a stopped instance means the row is stale.</summary>
    public DateTimeOffset ReportedAt { get; init; }
}
