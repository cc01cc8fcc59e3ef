using ApiGate.Core.Storage;
using ApiGate.Core.Upstreams;
using ApiGate.Storage.Rows;

namespace ApiGate.Storage.Sql;

/// <summary>Target health reported by running gateways (<c>target_health</c>, migration 5).</summary>
public abstract partial class SqlGatewayStore
{
    public Task ReportTargetHealthAsync(IReadOnlyList<TargetHealthReport> reports, CancellationToken cancellationToken) =>
        reports.Count == 0
            ? Task.CompletedTask
            : WriteTransactionAsync(async (connection, transaction, ct) =>
            {
                foreach (var r in reports)
                {
                    await ExecuteAsync(connection, transaction, """
                        INSERT INTO target_health (instance_id, upstream_id, target_url, state, since, reason, reported_at)
                        VALUES (@InstanceId, @UpstreamId, @TargetUrl, @State, @Since, @Reason, @ReportedAt)
                        ON CONFLICT (instance_id, upstream_id, target_url) DO UPDATE SET
                            state = excluded.state, since = excluded.since, reason = excluded.reason, reported_at = excluded.reported_at
                        """, ct, TargetHealthRow.From(r));
                }

                return true;
            }, cancellationToken);

    public Task DeleteTargetHealthAsync(string instanceId, string? upstreamId, string? targetUrl, CancellationToken cancellationToken) =>
        upstreamId is null || targetUrl is null
            ? WriteOneAsync("DELETE FROM target_health WHERE instance_id = @Instance", cancellationToken, new { Instance = instanceId })
            : WriteOneAsync("DELETE FROM target_health WHERE instance_id = @Instance AND upstream_id = @Upstream AND target_url = @Target",
                cancellationToken, new { Instance = instanceId, Upstream = upstreamId, Target = targetUrl });

    public Task<int> TouchTargetHealthAsync(string instanceId, DateTimeOffset reportedAt, CancellationToken cancellationToken) =>
        WriteOneAsync("UPDATE target_health SET reported_at = @Reported WHERE instance_id = @Instance", cancellationToken,
            new { Instance = instanceId, Reported = StoredValues.Time(reportedAt) });

    public Task<int> DeleteTargetHealthReportedBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        WriteOneAsync("DELETE FROM target_health WHERE reported_at < @Cutoff", cancellationToken, new { Cutoff = StoredValues.Time(cutoff) });

    public Task<IReadOnlyList<TargetHealthReport>> ListTargetHealthAsync(string upstreamId, CancellationToken cancellationToken) =>
        UseAsync<IReadOnlyList<TargetHealthReport>>(async (connection, ct) =>
            (await QueryAsync<TargetHealthRow>(connection, null,
                "SELECT instance_id, upstream_id, target_url, state, since, reason, reported_at FROM target_health WHERE upstream_id = @Upstream ORDER BY target_url, reported_at DESC",
                new { Upstream = upstreamId }, ct)).Select(r => r.ToDefinition()).ToList(), cancellationToken);
}
