using ApiGate.Core.Upstreams;

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
