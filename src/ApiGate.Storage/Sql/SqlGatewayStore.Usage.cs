using System.Data.Common;
using System.Globalization;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Storage.Rows;
using ApiGate.Storage.Usage;
using Dapper;

namespace ApiGate.Storage.Sql;

/// <summary>
/// Usage (SPEC §8): events, minute rollups and quota units are written together in batches, each engine its own
/// fastest way (SQLite's statement API on a prepared writer connection, PostgreSQL's binary COPY and one batched round
/// trip), from the same <see cref="UsageAggregate"/> deltas and <see cref="UsageSql"/> upserts. Reads from rollups (see
/// <see cref="IUsageStore"/>), compaction and pruning are the same SQL for both engines, here.
/// </summary>
public abstract partial class SqlGatewayStore
{
    /// <summary>
    /// In one transaction: the raw events (those <paramref name="rawEvents"/> keeps a row for), their minute rollups (and
    /// the hour and day rows of buckets already compacted) and their quota units. <paramref name="events"/> may be a
    /// segment of a reused buffer: an engine must not keep it after the call.
    /// </summary>
    public abstract Task AddUsageEventsAsync(IReadOnlyList<UsageEvent> events, RawUsageEvents rawEvents, CancellationToken cancellationToken);

    public Task AddUsageEventsAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken) =>
        AddUsageEventsAsync(events, RawUsageEvents.Callers, cancellationToken);

    /// <summary>
    /// Reads the compaction watermarks inside a transaction that writes rollups: PostgreSQL appends <c>FOR SHARE</c>
    /// (a batch) or <c>FOR UPDATE</c> (compaction) so a batch and a compaction never interleave; SQLite's write
    /// transaction already excludes every other writer.
    /// </summary>
    private protected virtual string LockedWatermarks(bool exclusive) => UsageSql.SelectWatermarks;

    public async Task<UsageSummary> GetUsageSummaryAsync(string userId, DateTimeOffset periodStart, DateTimeOffset periodEnd, CancellationToken cancellationToken)
    {
        long requests = 0, units = 0, requestBytes = 0, responseBytes = 0, errors = 0;
        foreach (var row in await ReadTotalsAsync(userId, periodStart, periodEnd, cancellationToken))
        {
            requests += row.Requests;
            units += row.Units;
            requestBytes += row.RequestBytes;
            responseBytes += row.ResponseBytes;
            errors += row.Errors;
        }

        return new UsageSummary(periodStart, periodEnd, requests, units, requestBytes, responseBytes, errors);
    }

    public async Task<IReadOnlyList<UsageSummary>> GetUsageHistoryAsync(string userId, int months, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(months, 1);
        var newest = QuotaPeriod.StartOf(now);
        var oldest = newest.AddMonths(-(months - 1));
        var rows = await ReadTotalsAsync(userId, oldest, newest.AddMonths(1), cancellationToken);

        var history = new List<UsageSummary>(months);
        for (var start = newest; start >= oldest; start = start.AddMonths(-1))
        {
            long from = start.ToUnixTimeSeconds(), to = start.AddMonths(1).ToUnixTimeSeconds();
            long requests = 0, units = 0, requestBytes = 0, responseBytes = 0, errors = 0;
            foreach (var row in rows)
            {
                if (row.Bucket >= from && row.Bucket < to)
                {
                    requests += row.Requests;
                    units += row.Units;
                    requestBytes += row.RequestBytes;
                    responseBytes += row.ResponseBytes;
                    errors += row.Errors;
                }
            }

            history.Add(new UsageSummary(start, start.AddMonths(1), requests, units, requestBytes, responseBytes, errors));
        }

        return history;
    }

    public async Task<IReadOnlyList<UsageEvent>> GetRecentUsageAsync(string userId, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var rows = await UseAsync((connection, ct) => QueryAsync<UsageEventRow>(connection, null,
            $"SELECT {UsageSql.EventColumns} FROM usage_events WHERE user_id = @User ORDER BY timestamp DESC, id DESC LIMIT @Limit",
            new { User = userId, Limit = limit }, ct), cancellationToken);
        return rows.Select(r => r.ToDefinition()).ToList();
    }

    // No usage is stored for an id holding a NUL (ids refuse control characters), and PostgreSQL cannot be asked about
    // one: its text type refuses the byte, which came back as the store being unavailable (503) for ?user=%00.
    public Task<bool> HasUsageAsync(string userId, CancellationToken cancellationToken) => userId.Contains('\0', StringComparison.Ordinal)
        ? Task.FromResult(false)
        : UseAsync(async (connection, ct) => await ScalarAsync(connection, null,
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM usage_rollups WHERE user_id = @User) OR EXISTS (SELECT 1 FROM quota_usage WHERE user_id = @User) "
            + "OR EXISTS (SELECT 1 FROM usage_events WHERE user_id = @User) THEN 1 ELSE 0 END", ct, new { User = userId }) == 1, cancellationToken);

    public async Task<UsageEventPage> GetRecentUsagePageAsync(string userId, int limit, int offset, ListCursor? after, int count, CancellationToken cancellationToken)
    {
        var page = await WindowPageAsync("id, " + UsageSql.EventColumns, "usage_events", "WHERE user_id = @User", "timestamp DESC, id DESC", new { User = userId },
            RecentUsageKeyset, (NumberedUsageEventRow r) => r.ToDefinition(), limit, offset, after, count, cancellationToken);
        return new UsageEventPage(page.Items, page.Total, page.Next);
    }

    /// <summary>The recent usage continues after a cursor by its order (timestamp, then id, both newest first).</summary>
    private static readonly Keyset<NumberedUsageEventRow> RecentUsageKeyset = new("(timestamp < @AfterValue OR (timestamp = @AfterValue AND id < @AfterId))",
        static r => new(r.Timestamp.ToString(CultureInfo.InvariantCulture), r.Id.ToString(CultureInfo.InvariantCulture)));

    public async Task<IReadOnlyList<UsageRollup>> GetGatewayUsageSeriesAsync(
        UsageGranularity granularity, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        var rows = await UseAsync((connection, ct) => QueryAsync<UsageRollupRow>(connection, null, UsageSql.GatewaySeries,
            new { Granularity = (long)granularity, From = from.ToUnixTimeSeconds(), To = to.ToUnixTimeSeconds() }, ct), cancellationToken);
        return rows.Select(r => r.ToDefinition()).ToList();
    }

    public async Task<IReadOnlyList<UsageLeader>> GetUsageLeadersAsync(
        UsageDimension by, DateTimeOffset from, DateTimeOffset to, int limit, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        var sql = UsageSql.Leaders(by == UsageDimension.Route ? "route_id" : "user_id");
        var rows = await UseAsync(async (connection, ct) =>
        {
            // One read transaction: the watermarks and the rows they select are the same snapshot, even while compaction runs.
            await using var transaction = await BeginReadAsync(connection, ct);
            var ranges = UsageRanges.Of(from, to, await ReadWatermarksAsync(connection, transaction, UsageSql.SelectWatermarks, ct));
            var rows = await QueryAsync<UsageLeaderRow>(connection, transaction, sql, new
            {
                ranges.DayFrom,
                ranges.DayTo,
                ranges.HourFrom,
                ranges.HourTo,
                ranges.MinuteFrom,
                ranges.MinuteTo,
                Limit = limit,
            }, ct);
            await transaction.CommitAsync(ct);
            return rows;
        }, cancellationToken);
        return rows.Select(r => r.ToDefinition()).ToList();
    }

    public Task<UsageWatermarks> GetUsageWatermarksAsync(CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) =>
        {
            var watermarks = await ReadWatermarksAsync(connection, null, UsageSql.SelectWatermarks, ct);
            await (AfterUsageWatermarksRead?.Invoke(ct) ?? Task.CompletedTask);
            return watermarks;
        }, cancellationToken);

    public Task<IReadOnlyList<UsageRollup>> GetUserUsageRowsAsync(string userId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        UseAsync<IReadOnlyList<UsageRollup>>(async (connection, ct) =>
        {
            // One read transaction: the watermarks and the rows they select are the same snapshot, even while compaction runs.
            await using var transaction = await BeginReadAsync(connection, ct);
            var watermarks = await ReadWatermarksAsync(connection, transaction, UsageSql.SelectWatermarks, ct);
            await (AfterUsageWatermarksRead?.Invoke(ct) ?? Task.CompletedTask);
            var rows = new List<UsageRollup>();
            foreach (var (granularity, start, end) in UserUsageRows.Ranges(watermarks, from, to))
            {
                rows.AddRange((await QueryAsync<UsageRollupRow>(connection, transaction, UsageSql.Rollups,
                    new { User = userId, Granularity = (long)granularity, From = start.ToUnixTimeSeconds(), To = end.ToUnixTimeSeconds() }, ct)).Select(r => r.ToDefinition()));
            }

            await transaction.CommitAsync(ct);
            return rows;
        }, cancellationToken);

    /// <summary>
    /// Runs right after a usage read took the watermarks, before it reads the rows they select: tests put a compaction
    /// there to check that the read still counts each request once. Null (nothing runs) outside tests.
    /// </summary>
    internal Func<CancellationToken, Task>? AfterUsageWatermarksRead { get; set; }

    public Task<int> CompactUsageAsync(UsageGranularity into, DateTimeOffset before, int maxBuckets, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBuckets, 1);
        var source = into switch
        {
            UsageGranularity.Hour => UsageGranularity.Minute,
            UsageGranularity.Day => UsageGranularity.Hour,
            _ => throw new ArgumentOutOfRangeException(nameof(into), into, "compaction goes into hours or days"),
        };
        var width = (long)into;

        return WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            // The watermark row locked first: batches (which read it to route late events) wait until this commits.
            var watermarks = await ReadWatermarksAsync(connection, transaction, LockedWatermarks(exclusive: true), ct);
            var current = (into == UsageGranularity.Hour ? watermarks.Hours : watermarks.Days).ToUnixTimeSeconds();
            // Whole buckets only; days only as far as their hours are complete.
            var limit = UsageAggregate.BucketOf(before.ToUnixTimeSeconds(), into);
            if (into == UsageGranularity.Day)
            {
                limit = Math.Min(limit, UsageAggregate.BucketOf(watermarks.Hours.ToUnixTimeSeconds(), into));
            }

            if (limit <= current)
            {
                return 0;
            }

            // Skip empty stretches (the first run on a store with old data, a gateway stopped for a month) in one step.
            var first = await FirstValueAsync<long?>(connection, transaction, UsageSql.FirstBucket, new { Granularity = (long)source, From = current }, ct);
            var start = first is { } f && f < limit ? Math.Max(current, UsageAggregate.BucketOf(f, into)) : limit;
            var end = Math.Min(limit, start + maxBuckets * width);
            if (end > start)
            {
                await ExecuteAsync(connection, transaction, UsageSql.Compact, ct, new { Into = width, From = (long)source, Start = start, End = end });
            }

            await ExecuteAsync(connection, transaction, UsageSql.SetWatermark, ct, new { Until = end, Granularity = width });
            return (int)((end - start) / width);
        }, cancellationToken);
    }

    public Task<int> PruneUsageAsync(UsageData data, DateTimeOffset before, int maxRows, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        return WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            if (data == UsageData.RawEvents)
            {
                return await ExecuteAsync(connection, transaction, UsageSql.PruneEvents, ct,
                    new { Before = UsageTime.ToUnixMicroseconds(before), Max = maxRows });
            }

            // Never the rows a read takes: minute rows from the hour watermark on, hour rows from the day watermark on.
            var watermarks = await ReadWatermarksAsync(connection, transaction, LockedWatermarks(exclusive: false), ct);
            var (granularity, keepFrom) = data switch
            {
                UsageData.MinuteRollups => (UsageGranularity.Minute, watermarks.Hours.ToUnixTimeSeconds()),
                UsageData.HourRollups => (UsageGranularity.Hour, watermarks.Days.ToUnixTimeSeconds()),
                UsageData.DayRollups => (UsageGranularity.Day, long.MaxValue),
                _ => throw new ArgumentOutOfRangeException(nameof(data), data, null),
            };
            return await ExecuteAsync(connection, transaction, UsageSql.PruneRollups, ct,
                new { Granularity = (long)granularity, Before = Math.Min(before.ToUnixTimeSeconds(), keepFrom), Max = maxRows });
        }, cancellationToken);
    }

    private Task<IReadOnlyList<UsageTotalsRow>> ReadTotalsAsync(string userId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) =>
        {
            // One read transaction: the watermarks and the rows they select are the same snapshot, even while compaction runs.
            await using var transaction = await BeginReadAsync(connection, ct);
            var ranges = UsageRanges.Of(from, to, await ReadWatermarksAsync(connection, transaction, UsageSql.SelectWatermarks, ct));
            var rows = await QueryAsync<UsageTotalsRow>(connection, transaction, UsageSql.Totals, new
            {
                User = userId,
                ranges.DayFrom,
                ranges.DayTo,
                ranges.HourFrom,
                ranges.HourTo,
                ranges.MinuteFrom,
                ranges.MinuteTo,
            }, ct);
            await transaction.CommitAsync(ct);
            return rows;
        }, cancellationToken);

    /// <summary>The hour and day watermarks in Unix seconds (0 when nothing has been compacted), read with <paramref name="sql"/>.</summary>
    private protected static async Task<UsageWatermarks> ReadWatermarksAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync<(long Granularity, long CompactedUntil)>(connection, transaction, sql, null, cancellationToken);
        long hours = 0, days = 0;
        foreach (var (granularity, until) in rows)
        {
            if (granularity == (long)UsageGranularity.Hour)
            {
                hours = until;
            }
            else if (granularity == (long)UsageGranularity.Day)
            {
                days = until;
            }
        }

        return new UsageWatermarks(DateTimeOffset.FromUnixTimeSeconds(hours), DateTimeOffset.FromUnixTimeSeconds(days));
    }
}
