using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Storage.Rows;
using ApiGate.Storage.Usage;
using Dapper;
using Microsoft.Data.Sqlite;

namespace ApiGate.Storage.Sqlite;

/// <summary>
/// Usage (SPEC §8): events, minute rollups and quota units written together in batches; reads from rollups (see
/// <see cref="IUsageStore"/>); compaction and pruning in short transactions. The SQL is <see cref="UsageSql"/>'s.
/// </summary>
public sealed partial class SqliteGatewayStore
{
    private readonly SemaphoreSlim _usageWriterLock = new(1, 1);
    private SqliteUsageWriter? _usageWriter;

    public Task AddUsageEventsAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken) =>
        AddUsageEventsAsync(events, storeRawEvents: true, cancellationToken);

    public async Task AddUsageEventsAsync(IReadOnlyList<UsageEvent> events, bool storeRawEvents, CancellationToken cancellationToken)
    {
        if (events.Count == 0)
        {
            return;
        }

        await _usageWriterLock.WaitAsync(cancellationToken);
        try
        {
            _usageWriter ??= new SqliteUsageWriter(await OpenAsync(cancellationToken));
            var connection = _usageWriter.Connection;
            using var transaction = BeginWrite(connection);
            try
            {
                _usageWriter.Write(events, storeRawEvents);
            }
            catch
            {
                // The connection may be unusable (disk error, file replaced): start the next batch on a fresh one.
                transaction.Rollback();
                DisposeUsageWriter();
                throw;
            }

            transaction.Commit(); // no version bump: usage is not configuration
        }
        finally
        {
            _usageWriterLock.Release();
        }
    }

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
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await QueryAsync<UsageEventRow>(connection, null,
            $"SELECT {UsageSql.EventColumns} FROM usage_events WHERE user_id = @User ORDER BY timestamp DESC, id DESC LIMIT @Limit",
            new { User = userId, Limit = limit }, cancellationToken);
        return rows.Select(r => r.ToDefinition()).ToList();
    }

    public async Task<IReadOnlyList<UsageRollup>> GetUsageRollupsAsync(
        string userId, UsageGranularity granularity, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await QueryAsync<UsageRollupRow>(connection, null, UsageSql.Rollups,
            new { User = userId, Granularity = (long)granularity, From = from.ToUnixTimeSeconds(), To = to.ToUnixTimeSeconds() }, cancellationToken);
        return rows.Select(r => r.ToDefinition()).ToList();
    }

    public async Task<UsageWatermarks> GetUsageWatermarksAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadWatermarksAsync(connection, null, cancellationToken);
    }

    public async Task<int> CompactUsageAsync(UsageGranularity into, DateTimeOffset before, int maxBuckets, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBuckets, 1);
        var source = into switch
        {
            UsageGranularity.Hour => UsageGranularity.Minute,
            UsageGranularity.Day => UsageGranularity.Hour,
            _ => throw new ArgumentOutOfRangeException(nameof(into), into, "compaction goes into hours or days"),
        };
        var width = (long)into;

        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = BeginWrite(connection);
        var watermarks = await ReadWatermarksAsync(connection, transaction, cancellationToken);
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
        var first = await connection.ExecuteScalarAsync<long?>(new CommandDefinition(UsageSql.FirstBucket,
            new { Granularity = (long)source, From = current }, transaction, cancellationToken: cancellationToken));
        var start = first is { } f && f < limit ? Math.Max(current, UsageAggregate.BucketOf(f, into)) : limit;
        var end = Math.Min(limit, start + maxBuckets * width);
        if (end > start)
        {
            await ExecuteAsync(connection, transaction, UsageSql.Compact, cancellationToken,
                new { Into = width, From = (long)source, Start = start, End = end });
        }

        await ExecuteAsync(connection, transaction, UsageSql.SetWatermark, cancellationToken, new { Until = end, Granularity = width });
        await transaction.CommitAsync(cancellationToken);
        return (int)((end - start) / width);
    }

    public async Task<int> PruneUsageAsync(UsageData data, DateTimeOffset before, int maxRows, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = BeginWrite(connection);
        int deleted;
        if (data == UsageData.RawEvents)
        {
            deleted = await ExecuteAsync(connection, transaction, UsageSql.PruneEvents, cancellationToken,
                new { Before = UsageTime.ToUnixMicroseconds(before), Max = maxRows });
        }
        else
        {
            var watermarks = await ReadWatermarksAsync(connection, transaction, cancellationToken);
            var (granularity, keepFrom) = data switch
            {
                UsageData.MinuteRollups => (UsageGranularity.Minute, watermarks.Hours.ToUnixTimeSeconds()),
                UsageData.HourRollups => (UsageGranularity.Hour, watermarks.Days.ToUnixTimeSeconds()),
                UsageData.DayRollups => (UsageGranularity.Day, long.MaxValue),
                _ => throw new ArgumentOutOfRangeException(nameof(data), data, null),
            };
            deleted = await ExecuteAsync(connection, transaction, UsageSql.PruneRollups, cancellationToken,
                new { Granularity = (long)granularity, Before = Math.Min(before.ToUnixTimeSeconds(), keepFrom), Max = maxRows });
        }

        await transaction.CommitAsync(cancellationToken);
        return deleted;
    }

    private async Task<IReadOnlyList<UsageTotalsRow>> ReadTotalsAsync(string userId, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        // One read transaction: the watermarks and the rows they select are the same snapshot, even while compaction runs.
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        var ranges = UsageRanges.Of(from, to, await ReadWatermarksAsync(connection, transaction, cancellationToken));
        return await QueryAsync<UsageTotalsRow>(connection, transaction, UsageSql.Totals, new
        {
            User = userId,
            ranges.DayFrom,
            ranges.DayTo,
            ranges.HourFrom,
            ranges.HourTo,
            ranges.MinuteFrom,
            ranges.MinuteTo,
        }, cancellationToken);
    }

    private static async Task<UsageWatermarks> ReadWatermarksAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync<(long Granularity, long CompactedUntil)>(connection, transaction, UsageSql.SelectWatermarks, null, cancellationToken);
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

    private void DisposeUsageWriter()
    {
        _usageWriter?.Dispose();
        _usageWriter = null;
    }
}
