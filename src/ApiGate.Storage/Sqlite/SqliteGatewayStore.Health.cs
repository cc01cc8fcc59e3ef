using ApiGate.Core.Storage;
using ApiGate.Storage.Rows;

namespace ApiGate.Storage.Sqlite;

/// <summary>Target health reported by running gateways (<c>target_health</c>, migration 5).</summary>
public sealed partial class SqliteGatewayStore
{
    public async Task ReportTargetHealthAsync(IReadOnlyList<TargetHealthReport> reports, CancellationToken cancellationToken)
    {
        if (reports.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = BeginWrite(connection);
        foreach (var r in reports)
        {
            await ExecuteAsync(connection, transaction, """
                INSERT INTO target_health (instance_id, upstream_id, target_url, state, since, reason, reported_at)
                VALUES (@InstanceId, @UpstreamId, @TargetUrl, @State, @Since, @Reason, @ReportedAt)
                ON CONFLICT (instance_id, upstream_id, target_url) DO UPDATE SET
                    state = excluded.state, since = excluded.since, reason = excluded.reason, reported_at = excluded.reported_at
                """, cancellationToken, TargetHealthRow.From(r));
        }

        await transaction.CommitAsync(cancellationToken);
    }

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

    /// <summary>One bookkeeping statement in its own write transaction (so a held lock surfaces as <see cref="Core.Storage.StoreBusyException"/>).</summary>
    private async Task<int> WriteOneAsync(string sql, CancellationToken cancellationToken, object parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = BeginWrite(connection);
        var changed = await ExecuteAsync(connection, transaction, sql, cancellationToken, parameters);
        await transaction.CommitAsync(cancellationToken);
        return changed;
    }

    public async Task<IReadOnlyList<TargetHealthReport>> ListTargetHealthAsync(string upstreamId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await QueryAsync<TargetHealthRow>(connection, null,
            "SELECT instance_id, upstream_id, target_url, state, since, reason, reported_at FROM target_health WHERE upstream_id = @Upstream ORDER BY target_url, reported_at DESC",
            new { Upstream = upstreamId }, cancellationToken);
        return rows.Select(r => r.ToDefinition()).ToList();
    }
}
