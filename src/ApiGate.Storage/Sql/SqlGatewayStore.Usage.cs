using System.Globalization;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Storage.Rows;

namespace ApiGate.Storage.Sql;

/// <summary>
/// Usage events (SPEC §8): each engine appends them its own fastest way (SQLite's statement API, PostgreSQL's binary
/// COPY) together with <see cref="QuotaDeltas"/>; the reads below are the same SQL for both.
/// </summary>
public abstract partial class SqlGatewayStore
{
    /// <summary>The columns of <c>usage_events</c> an event fills, in the order the engines bind them.</summary>
    private protected const string UsageColumns =
        "user_id, key_id, route_id, upstream_id, method, path, status, latency_ms, request_bytes, response_bytes, units, client_ip, request_id, timestamp";

    public Task<UsageSummary> GetUsageSummaryAsync(string userId, DateTimeOffset periodStart, DateTimeOffset periodEnd, CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) =>
        {
            var rows = await QueryAsync<UsageTotalsRow>(connection, null,
                $"SELECT {UsageTotalsRow.Sql} FROM usage_events WHERE user_id = @User AND timestamp >= @From AND timestamp < @To",
                new { User = userId, From = StoredValues.Time(periodStart), To = StoredValues.Time(periodEnd) }, ct);
            return rows[0].ToSummary(periodStart, periodEnd);
        }, cancellationToken);

    public async Task<IReadOnlyList<UsageSummary>> GetUsageHistoryAsync(string userId, int months, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(months, 1);
        var newest = QuotaPeriod.StartOf(now);
        var oldest = newest.AddMonths(-(months - 1));
        var end = newest.AddMonths(1);

        // substr(timestamp, 1, 7) is the 'yyyy-MM' of a UTC timestamp: the calendar month it belongs to.
        var found = await UseAsync((connection, ct) => QueryAsync<UsageTotalsRow>(connection, null,
            $"SELECT substr(timestamp, 1, 7) AS month, {UsageTotalsRow.Sql} FROM usage_events " +
            "WHERE user_id = @User AND timestamp >= @From AND timestamp < @To GROUP BY substr(timestamp, 1, 7)",
            new { User = userId, From = StoredValues.Time(oldest), To = StoredValues.Time(end) }, ct), cancellationToken);
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
        var rows = await UseAsync((connection, ct) => QueryAsync<UsageEventRow>(connection, null,
            $"SELECT {UsageColumns} FROM usage_events WHERE user_id = @User ORDER BY timestamp DESC, id DESC LIMIT @Limit",
            new { User = userId, Limit = limit }, ct), cancellationToken);
        return rows.Select(r => r.ToDefinition()).ToList();
    }

    /// <summary>
    /// The quota units a batch of events adds, per user and calendar month (UTC) of each event's timestamp, like usage
    /// summaries; anonymous events and events of no units count nowhere. Written in the events' transaction, so stored
    /// usage and stored quota units never disagree, whenever the process stops.
    /// </summary>
    private protected static IEnumerable<QuotaUsage> QuotaDeltas(IReadOnlyList<UsageEvent> events)
    {
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

        return quota.Select(q => new QuotaUsage(q.Key.UserId, q.Key.Period, q.Value.Used, q.Value.Overage));
    }
}
