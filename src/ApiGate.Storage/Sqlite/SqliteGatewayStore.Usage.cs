using System.Globalization;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Storage.Rows;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ApiGate.Storage.Sqlite;

/// <summary>Usage events (SPEC §8): appended in batches, summed per period for <c>apigate usage</c>.</summary>
public sealed partial class SqliteGatewayStore
{
    private const string UsageColumns =
        "user_id, key_id, route_id, upstream_id, method, path, status, latency_ms, request_bytes, response_bytes, units, client_ip, request_id, timestamp";

    public async Task AddUsageEventsAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        // WAL + synchronous=NORMAL: commits are ordered and crash-safe; only an OS crash can lose the last batch.
        await ExecuteAsync(connection, null, "PRAGMA synchronous = NORMAL", cancellationToken);
        await using var transaction = BeginWrite(connection);

        // The hottest write in the product (one row per proxied request): one statement prepared per batch and bound by
        // position through SQLite's own API. ADO.NET parameters, bound by name per row, cost twice as much here.
        var db = connection.Handle!;
        Check(db, raw.sqlite3_prepare_v2(db, $"INSERT INTO usage_events ({UsageColumns}) VALUES ({string.Join(", ", UsageColumns.Split(", ").Select(_ => "?"))})", out sqlite3_stmt statement));
        try
        {
            foreach (var e in events)
            {
                BindUsage(statement, e);
                var step = raw.sqlite3_step(statement);
                if (step != raw.SQLITE_DONE)
                {
                    Check(db, step);
                }

                raw.sqlite3_reset(statement);
            }
        }
        finally
        {
            raw.sqlite3_finalize(statement);
        }

        // The quota counters in the same transaction: stored usage and stored quota units can never disagree, whenever
        // the process stops. Each event counts in the calendar month (UTC) of its timestamp, like usage summaries.
        var quota = new Dictionary<(string UserId, DateTimeOffset Period), (long Used, long Overage)>();
        foreach (var e in events)
        {
            if (e.UserId == UsageEvent.Anonymous || (e.Units == 0 && e.OverageUnits == 0))
            {
                continue;
            }

            var period = (e.UserId, QuotaPeriod.StartOf(e.Timestamp));
            var sum = quota.GetValueOrDefault(period);
            quota[period] = (sum.Used + e.Units, sum.Overage + e.OverageUnits);
        }

        foreach (var ((userId, period), (used, overage)) in quota)
        {
            await AddQuotaAsync(connection, transaction, new QuotaUsage(userId, period, used, overage), cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken); // no version bump: usage is not configuration
    }

    public async Task<UsageSummary> GetUsageSummaryAsync(string userId, DateTimeOffset periodStart, DateTimeOffset periodEnd, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await QueryAsync<UsageTotalsRow>(connection, null,
            $"SELECT {UsageTotalsRow.Sql} FROM usage_events WHERE user_id = @User AND timestamp >= @From AND timestamp < @To",
            new { User = userId, From = StoredValues.Time(periodStart), To = StoredValues.Time(periodEnd) }, cancellationToken);
        return rows[0].ToSummary(periodStart, periodEnd);
    }

    public async Task<IReadOnlyList<UsageSummary>> GetUsageHistoryAsync(string userId, int months, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(months, 1);
        var newest = QuotaPeriod.StartOf(now);
        var oldest = newest.AddMonths(-(months - 1));
        var end = newest.AddMonths(1);

        await using var connection = await OpenAsync(cancellationToken);
        // substr(timestamp, 1, 7) is the 'yyyy-MM' of a UTC timestamp: the calendar month it belongs to.
        var found = await QueryAsync<UsageTotalsRow>(connection, null,
            $"SELECT substr(timestamp, 1, 7) AS month, {UsageTotalsRow.Sql} FROM usage_events " +
            "WHERE user_id = @User AND timestamp >= @From AND timestamp < @To GROUP BY substr(timestamp, 1, 7)",
            new { User = userId, From = StoredValues.Time(oldest), To = StoredValues.Time(end) }, cancellationToken);
        var byMonth = found.ToDictionary(f => f.Month, StringComparer.Ordinal);

        var history = new List<UsageSummary>(months);
        for (var start = newest; start >= oldest; start = start.AddMonths(-1))
        {
            var key = start.ToString("yyyy-MM", CultureInfo.InvariantCulture);
            history.Add(byMonth.TryGetValue(key, out var totals)
                ? totals.ToSummary(start, start.AddMonths(1))
                : new UsageSummary(start, start.AddMonths(1), 0, 0, 0, 0, 0));
        }

        return history;
    }

    public async Task<IReadOnlyList<UsageEvent>> GetRecentUsageAsync(string userId, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await QueryAsync<UsageEventRow>(connection, null,
            $"SELECT {UsageColumns} FROM usage_events WHERE user_id = @User ORDER BY timestamp DESC, id DESC LIMIT @Limit",
            new { User = userId, Limit = limit }, cancellationToken);
        return rows.Select(r => r.ToDefinition()).ToList();
    }

    /// <summary>Binds one event in <see cref="UsageColumns"/> order (SQLite parameters are 1-based).</summary>
    private static void BindUsage(sqlite3_stmt s, UsageEvent e)
    {
        raw.sqlite3_bind_text(s, 1, e.UserId);
        raw.sqlite3_bind_text(s, 2, e.KeyId);
        raw.sqlite3_bind_text(s, 3, e.RouteId);
        raw.sqlite3_bind_text(s, 4, e.UpstreamId);
        raw.sqlite3_bind_text(s, 5, e.Method);
        raw.sqlite3_bind_text(s, 6, e.Path);
        raw.sqlite3_bind_int(s, 7, e.Status);
        raw.sqlite3_bind_double(s, 8, e.LatencyMs);
        raw.sqlite3_bind_int64(s, 9, e.RequestBytes);
        raw.sqlite3_bind_int64(s, 10, e.ResponseBytes);
        raw.sqlite3_bind_int64(s, 11, e.Units);
        raw.sqlite3_bind_text(s, 12, e.ClientIp);
        raw.sqlite3_bind_text(s, 13, e.RequestId);
        raw.sqlite3_bind_text(s, 14, StoredValues.Time(e.Timestamp));
    }

    private static void Check(sqlite3 db, int result)
    {
        if (result != raw.SQLITE_OK)
        {
            throw new SqliteException(raw.sqlite3_errmsg(db).utf8_to_string(), result);
        }
    }
}
