using ApiGate.Core.Storage;
using ApiGate.Core.Upstreams;

namespace ApiGate.Gateway.Persistence;

/// <summary>
/// The target-health store as the gateway's <see cref="Balancing.TargetHealthReporter"/> sees it: its writes run on
/// the <see cref="StoreWriter"/> thread, so health reports and heartbeats never hold a thread-pool thread while the
/// database is locked. Reads go straight to the store.
/// </summary>
internal sealed class WriterTargetHealthStore(ITargetHealthStore store, StoreWriter writer) : ITargetHealthStore
{
    public Task ReportTargetHealthAsync(IReadOnlyList<TargetHealthReport> reports, CancellationToken cancellationToken) =>
        writer.RunAsync(ct => store.ReportTargetHealthAsync(reports, ct), cancellationToken);

    public Task DeleteTargetHealthAsync(string instanceId, string? upstreamId, string? targetUrl, CancellationToken cancellationToken) =>
        writer.RunAsync(ct => store.DeleteTargetHealthAsync(instanceId, upstreamId, targetUrl, ct), cancellationToken);

    public Task<int> TouchTargetHealthAsync(string instanceId, DateTimeOffset reportedAt, CancellationToken cancellationToken) =>
        writer.RunAsync(ct => store.TouchTargetHealthAsync(instanceId, reportedAt, ct), cancellationToken);

    public Task<int> DeleteTargetHealthReportedBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        writer.RunAsync(ct => store.DeleteTargetHealthReportedBeforeAsync(cutoff, ct), cancellationToken);

    public Task<IReadOnlyList<TargetHealthReport>> ListTargetHealthAsync(string upstreamId, CancellationToken cancellationToken) =>
        store.ListTargetHealthAsync(upstreamId, cancellationToken);
}
