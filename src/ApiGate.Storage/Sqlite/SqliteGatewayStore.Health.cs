using ApiGate.Core.Storage;

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
                VALUES ($instance, $upstream, $target, $state, $since, $reason, $reported)
                ON CONFLICT (instance_id, upstream_id, target_url) DO UPDATE SET
                    state = excluded.state, since = excluded.since, reason = excluded.reason, reported_at = excluded.reported_at
                """, cancellationToken,
                ("$instance", r.InstanceId), ("$upstream", r.UpstreamId), ("$target", r.TargetUrl), ("$state", r.State),
                ("$since", Timestamp(r.Since)), ("$reason", r.Reason), ("$reported", Timestamp(r.ReportedAt)));
        }

        await transaction.CommitAsync(cancellationToken);
    }

    public Task DeleteTargetHealthAsync(string instanceId, string? upstreamId, string? targetUrl, CancellationToken cancellationToken) =>
        upstreamId is null || targetUrl is null
            ? WriteOneAsync("DELETE FROM target_health WHERE instance_id = $instance", cancellationToken, ("$instance", instanceId))
            : WriteOneAsync("DELETE FROM target_health WHERE instance_id = $instance AND upstream_id = $upstream AND target_url = $target",
                cancellationToken, ("$instance", instanceId), ("$upstream", upstreamId), ("$target", targetUrl));

    public Task<int> TouchTargetHealthAsync(string instanceId, DateTimeOffset reportedAt, CancellationToken cancellationToken) =>
        WriteOneAsync("UPDATE target_health SET reported_at = $reported WHERE instance_id = $instance", cancellationToken,
            ("$instance", instanceId), ("$reported", Timestamp(reportedAt)));

    public Task<int> DeleteTargetHealthReportedBeforeAsync(DateTimeOffset cutoff, CancellationToken cancellationToken) =>
        WriteOneAsync("DELETE FROM target_health WHERE reported_at < $cutoff", cancellationToken, ("$cutoff", Timestamp(cutoff)));

    /// <summary>One bookkeeping statement in its own write transaction (so a held lock surfaces as <see cref="Core.Storage.StoreBusyException"/>).</summary>
    private async Task<int> WriteOneAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
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
        return await QueryAsync(connection, null,
            "SELECT instance_id, upstream_id, target_url, state, since, reason, reported_at FROM target_health WHERE upstream_id = $upstream ORDER BY target_url, reported_at DESC",
            r => new TargetHealthReport
            {
                InstanceId = r.GetString(0),
                UpstreamId = r.GetString(1),
                TargetUrl = r.GetString(2),
                State = r.GetString(3),
                Since = Time(r.GetString(4)),
                Reason = r.GetString(5),
                ReportedAt = Time(r.GetString(6)),
            },
            cancellationToken, ("$upstream", upstreamId));
    }
}
