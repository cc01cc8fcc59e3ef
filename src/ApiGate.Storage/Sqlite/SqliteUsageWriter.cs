using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Storage.Rows;
using ApiGate.Storage.Usage;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ApiGate.Storage.Sqlite;

/// <summary>
/// The usage write path of the SQLite store: one connection kept open with its statements (event insert, rollup upsert,
/// quota upsert, watermark read) prepared once and reused for every batch, bound by position through SQLite's own API.
/// Used by one caller at a time (the store serialises calls). Any failure disposes it; the store opens a fresh one.
/// </summary>
internal sealed class SqliteUsageWriter : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _insertEvent;
    private readonly sqlite3_stmt _upsertRollup;
    private readonly sqlite3_stmt _upsertQuota;
    private readonly sqlite3_stmt _watermarks;
    private readonly sqlite3_stmt _insertOverage;
    private readonly sqlite3_stmt _addQuotaOverage;
    private readonly UsageAggregate _aggregate = new();
    private readonly Dictionary<(string UserId, DateTimeOffset Period), long> _storedQuota = [];
    private readonly Func<string, DateTimeOffset, long> _storedAfter;

    public SqliteUsageWriter(SqliteConnection connection)
    {
        _connection = connection;
        _db = connection.Handle!;
        // WAL + synchronous=NORMAL: commits are ordered and crash-safe; only an OS crash can lose the last batch.
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = "PRAGMA synchronous = NORMAL";
            pragma.ExecuteNonQuery();
        }

        _insertEvent = Prepare(UsageSql.InsertEvent);
        _upsertRollup = Prepare(UsageSql.UpsertRollup);
        _upsertQuota = Prepare(UsageSql.UpsertQuota);
        _watermarks = Prepare(UsageSql.SelectWatermarks);
        _insertOverage = Prepare(UsageSql.InsertOverage);
        _addQuotaOverage = Prepare(UsageSql.AddQuotaOverage);
        _storedAfter = (userId, period) => _storedQuota[(userId, period)];
    }

    /// <summary>The writer's own connection: the caller opens the batch's write transaction on it.</summary>
    public SqliteConnection Connection => _connection;

    /// <summary>
    /// Raw rows written between two offers of this thread's core to other runnable threads (<see cref="Thread.Yield"/>).
    /// A batch of 500 raw rows is ~1.5 ms of SQLite work; run in one go it holds one of a small machine's cores while
    /// requests wait for it, which showed in the gateway's p99 (docs/performance.md, "the usage writer yields inside its
    /// batch").
    /// </summary>
    private const int RowsBetweenYields = 50;

    /// <summary>Writes the batch in the transaction the caller has opened on <see cref="Connection"/>.</summary>
    public void Write(IReadOnlyList<UsageEvent> events, RawUsageEvents rawEvents)
    {
        var rows = 0;
        for (var i = 0; i < events.Count; i++)
        {
            if (rawEvents.Keeps(events[i]))
            {
                if (rows > 0 && rows % RowsBetweenYields == 0)
                {
                    Thread.Yield();
                }

                BindEvent(_insertEvent, events[i]);
                Step(_insertEvent);
                rows++;
            }
        }

        _aggregate.Clear();
        _aggregate.AddRange(events);
        var (hours, days) = ReadWatermarks();
        foreach (var delta in _aggregate.Rollups)
        {
            UpsertRollup(delta, UsageGranularity.Minute, delta.Key.Bucket);
            // A late event (a long stream ends after its minute was compacted) also goes to the coarser rows already read.
            var hour = UsageAggregate.BucketOf(delta.Key.Bucket, UsageGranularity.Hour);
            if (delta.Key.Bucket < hours)
            {
                UpsertRollup(delta, UsageGranularity.Hour, hour);
            }

            if (hour < days)
            {
                UpsertRollup(delta, UsageGranularity.Day, UsageAggregate.BucketOf(delta.Key.Bucket, UsageGranularity.Day));
            }
        }

        // The quota counters in the same transaction: stored usage and stored quota units can never disagree.
        _storedQuota.Clear();
        foreach (var quota in _aggregate.Quota)
        {
            raw.sqlite3_bind_text(_upsertQuota, 1, quota.UserId);
            raw.sqlite3_bind_text(_upsertQuota, 2, StoredValues.Time(quota.PeriodStart));
            raw.sqlite3_bind_int64(_upsertQuota, 3, quota.Used);
            _storedQuota[(quota.UserId, quota.PeriodStart)] = StepForTotal(_upsertQuota);
        }

        if (!_aggregate.CountsOverage)
        {
            return;
        }

        _aggregate.CountOverage(events, _storedAfter);
        foreach (var quota in _aggregate.Quota)
        {
            if (quota.Overage > 0)
            {
                raw.sqlite3_bind_int64(_addQuotaOverage, 1, quota.Overage);
                raw.sqlite3_bind_text(_addQuotaOverage, 2, quota.UserId);
                raw.sqlite3_bind_text(_addQuotaOverage, 3, StoredValues.Time(quota.PeriodStart));
                Step(_addQuotaOverage);
            }
        }

        // Overage for billing, in the same transaction: billed exactly for what is stored (docs/billing.md).
        foreach (var overage in _aggregate.BilledOverage)
        {
            raw.sqlite3_bind_text(_insertOverage, 1, UsageSql.NewOverageId());
            raw.sqlite3_bind_text(_insertOverage, 2, overage.Meter);
            raw.sqlite3_bind_int64(_insertOverage, 3, overage.Units);
            raw.sqlite3_bind_text(_insertOverage, 4, StoredValues.Time(overage.PeriodStart));
            raw.sqlite3_bind_int64(_insertOverage, 5, UsageSql.OverageTime(UsageSql.Newest(events), overage.PeriodStart));
            raw.sqlite3_bind_text(_insertOverage, 6, overage.UserId);
            Step(_insertOverage);
        }
    }

    public void Dispose()
    {
        raw.sqlite3_finalize(_insertEvent);
        raw.sqlite3_finalize(_upsertRollup);
        raw.sqlite3_finalize(_upsertQuota);
        raw.sqlite3_finalize(_watermarks);
        raw.sqlite3_finalize(_insertOverage);
        raw.sqlite3_finalize(_addQuotaOverage);
        _connection.Dispose();
    }

    private (long Hours, long Days) ReadWatermarks()
    {
        long hours = 0, days = 0;
        try
        {
            while (raw.sqlite3_step(_watermarks) is var step && step == raw.SQLITE_ROW)
            {
                var granularity = raw.sqlite3_column_int64(_watermarks, 0);
                var until = raw.sqlite3_column_int64(_watermarks, 1);
                if (granularity == (long)UsageGranularity.Hour)
                {
                    hours = until;
                }
                else if (granularity == (long)UsageGranularity.Day)
                {
                    days = until;
                }
            }
        }
        finally
        {
            raw.sqlite3_reset(_watermarks);
        }

        return (hours, days);
    }

    private void UpsertRollup(UsageAggregate.RollupDelta delta, UsageGranularity granularity, long bucket)
    {
        var s = _upsertRollup;
        raw.sqlite3_bind_int64(s, 1, (long)granularity);
        raw.sqlite3_bind_int64(s, 2, bucket);
        raw.sqlite3_bind_text(s, 3, delta.Key.UserId);
        raw.sqlite3_bind_text(s, 4, delta.Key.KeyId);
        raw.sqlite3_bind_text(s, 5, delta.Key.RouteId);
        raw.sqlite3_bind_int(s, 6, delta.Key.StatusGroup);
        raw.sqlite3_bind_int64(s, 7, delta.Requests);
        raw.sqlite3_bind_int64(s, 8, delta.Units);
        raw.sqlite3_bind_int64(s, 9, delta.RequestBytes);
        raw.sqlite3_bind_int64(s, 10, delta.ResponseBytes);
        raw.sqlite3_bind_double(s, 11, delta.LatencyMsSum);
        for (var i = 0; i < UsageLatencyBuckets.Count; i++)
        {
            raw.sqlite3_bind_int64(s, 12 + i, delta.LatencyBuckets[i]);
        }

        Step(s);
    }

    /// <summary>Binds one event in <see cref="UsageSql.EventColumns"/> order (SQLite parameters are 1-based).</summary>
    private static void BindEvent(sqlite3_stmt s, in UsageEvent e)
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
        raw.sqlite3_bind_int64(s, 14, UsageTime.ToUnixMicroseconds(e.Timestamp));
    }

    private sqlite3_stmt Prepare(string sql)
    {
        Check(raw.sqlite3_prepare_v2(_db, sql, out sqlite3_stmt statement));
        return statement;
    }

    /// <summary>Runs an upsert that returns the row's new total (<c>RETURNING</c>) and reads it.</summary>
    private long StepForTotal(sqlite3_stmt statement)
    {
        try
        {
            var step = raw.sqlite3_step(statement);
            if (step != raw.SQLITE_ROW)
            {
                Check(step == raw.SQLITE_DONE ? raw.SQLITE_ERROR : step);
            }

            var total = raw.sqlite3_column_int64(statement, 0);
            step = raw.sqlite3_step(statement);
            if (step != raw.SQLITE_DONE)
            {
                Check(step);
            }

            return total;
        }
        finally
        {
            raw.sqlite3_reset(statement);
        }
    }

    private void Step(sqlite3_stmt statement)
    {
        var step = raw.sqlite3_step(statement);
        raw.sqlite3_reset(statement);
        if (step != raw.SQLITE_DONE)
        {
            Check(step);
        }
    }

    private void Check(int result)
    {
        if (result != raw.SQLITE_OK)
        {
            throw new SqliteException(raw.sqlite3_errmsg(_db).utf8_to_string(), result);
        }
    }
}
