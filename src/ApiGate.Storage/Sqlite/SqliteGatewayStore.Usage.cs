using System.Globalization;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using Microsoft.Data.Sqlite;

namespace ApiGate.Storage.Sqlite;

/// <summary>Usage events (SPEC §8): appended in batches, summed per period for <c>apigate usage</c>.</summary>
public sealed partial class SqliteGatewayStore
{
    private const string UsageColumns =
        "user_id, key_id, route_id, upstream_id, method, path, status, latency_ms, request_bytes, response_bytes, units, client_ip, request_id, timestamp";

    private const string UsageTotals =
        "COUNT(*), COALESCE(SUM(units), 0), COALESCE(SUM(request_bytes), 0), COALESCE(SUM(response_bytes), 0), COALESCE(SUM(status >= 500), 0)";

    public async Task AddUsageEventsAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        // WAL + synchronous=NORMAL: commits are ordered and crash-safe; only an OS crash can lose the last batch.
        await ExecuteAsync(connection, null, "PRAGMA synchronous = NORMAL", cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        // One statement, prepared once; its parameters are created once and only their values change per event, so a
        // batch of 500 costs one transaction and no per-row statement or parameter objects.
        var columns = UsageColumns.Split(", ");
        await using (var command = Command(connection, transaction,
            $"INSERT INTO usage_events ({UsageColumns}) VALUES ({string.Join(", ", columns.Select(c => "$" + c))})"))
        {
            var parameters = columns.Select(c => command.Parameters.Add(new SqliteParameter { ParameterName = "$" + c })).ToArray();
            command.Prepare();
            foreach (var e in events)
            {
                SetUsageValues(parameters, e);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken); // no version bump: usage is not configuration
    }

    public async Task<UsageSummary> GetUsageSummaryAsync(string userId, DateTimeOffset periodStart, DateTimeOffset periodEnd, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await QueryAsync(connection, null,
            $"SELECT {UsageTotals} FROM usage_events WHERE user_id = $user AND timestamp >= $from AND timestamp < $to",
            r => ReadTotals(r, 0, periodStart, periodEnd), cancellationToken,
            ("$user", userId), ("$from", Timestamp(periodStart)), ("$to", Timestamp(periodEnd)));
        return rows[0];
    }

    public async Task<IReadOnlyList<UsageSummary>> GetUsageHistoryAsync(string userId, int months, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(months, 1);
        var newest = QuotaPeriod.StartOf(now);
        var oldest = newest.AddMonths(-(months - 1));
        var end = newest.AddMonths(1);

        await using var connection = await OpenAsync(cancellationToken);
        // substr(timestamp, 1, 7) is the 'yyyy-MM' of a UTC timestamp: the calendar month it belongs to.
        var found = await QueryAsync(connection, null,
            $"SELECT substr(timestamp, 1, 7), {UsageTotals} FROM usage_events " +
            "WHERE user_id = $user AND timestamp >= $from AND timestamp < $to GROUP BY substr(timestamp, 1, 7)",
            r => (Month: r.GetString(0), Totals: ReadTotals(r, 1, default, default)), cancellationToken,
            ("$user", userId), ("$from", Timestamp(oldest)), ("$to", Timestamp(end)));
        var byMonth = found.ToDictionary(f => f.Month, f => f.Totals, StringComparer.Ordinal);

        var history = new List<UsageSummary>(months);
        for (var start = newest; start >= oldest; start = start.AddMonths(-1))
        {
            var key = start.ToString("yyyy-MM", CultureInfo.InvariantCulture);
            history.Add(byMonth.TryGetValue(key, out var totals)
                ? totals with { PeriodStart = start, PeriodEnd = start.AddMonths(1) }
                : new UsageSummary(start, start.AddMonths(1), 0, 0, 0, 0, 0));
        }

        return history;
    }

    public async Task<IReadOnlyList<UsageEvent>> GetRecentUsageAsync(string userId, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await OpenAsync(cancellationToken);
        return await QueryAsync(connection, null,
            $"SELECT {UsageColumns} FROM usage_events WHERE user_id = $user ORDER BY timestamp DESC, id DESC LIMIT $limit",
            ReadUsage, cancellationToken, ("$user", userId), ("$limit", limit));
    }

    /// <summary>Values in <see cref="UsageColumns"/> order.</summary>
    private static void SetUsageValues(SqliteParameter[] p, UsageEvent e)
    {
        p[0].Value = e.UserId;
        p[1].Value = e.KeyId;
        p[2].Value = e.RouteId;
        p[3].Value = e.UpstreamId;
        p[4].Value = e.Method;
        p[5].Value = e.Path;
        p[6].Value = e.Status;
        p[7].Value = e.LatencyMs;
        p[8].Value = e.RequestBytes;
        p[9].Value = e.ResponseBytes;
        p[10].Value = e.Units;
        p[11].Value = e.ClientIp;
        p[12].Value = e.RequestId;
        p[13].Value = Timestamp(e.Timestamp);
    }


    private static UsageEvent ReadUsage(SqliteDataReader r) => new()
    {
        UserId = r.GetString(0),
        KeyId = r.GetString(1),
        RouteId = r.GetString(2),
        UpstreamId = r.GetString(3),
        Method = r.GetString(4),
        Path = r.GetString(5),
        Status = r.GetInt32(6),
        LatencyMs = r.GetDouble(7),
        RequestBytes = r.GetInt64(8),
        ResponseBytes = r.GetInt64(9),
        Units = r.GetInt64(10),
        ClientIp = r.GetString(11),
        RequestId = r.GetString(12),
        Timestamp = Time(r.GetString(13)),
    };

    private static UsageSummary ReadTotals(SqliteDataReader r, int o, DateTimeOffset periodStart, DateTimeOffset periodEnd) =>
        new(periodStart, periodEnd, r.GetInt64(o), r.GetInt64(o + 1), r.GetInt64(o + 2), r.GetInt64(o + 3), r.GetInt64(o + 4));
}
