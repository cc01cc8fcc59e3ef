using System.Data.Common;
using ApiGate.Core.Usage;
using ApiGate.Storage.Rows;
using ApiGate.Storage.Usage;
using Npgsql;
using NpgsqlTypes;

namespace ApiGate.Storage.Postgres;

/// <summary>
/// Usage batches (SPEC §8) in one transaction: the raw events as one binary COPY, then every rollup and quota upsert
/// of the batch in one round trip (<see cref="NpgsqlBatch"/>). Reads, compaction and pruning are shared
/// (<see cref="Sql.SqlGatewayStore"/>).
/// </summary>
public sealed partial class PostgresGatewayStore
{
    private const string CopyUsage = $"COPY usage_events ({UsageSql.EventColumns}) FROM STDIN (FORMAT BINARY)";

    private const string WatermarksForShare = UsageSql.SelectWatermarks + " FOR SHARE";

    private const string WatermarksForUpdate = UsageSql.SelectWatermarks + " FOR UPDATE";

    private protected override string LockedWatermarks(bool exclusive) => exclusive ? WatermarksForUpdate : WatermarksForShare;

    /// <summary>
    /// The batch in one transaction. The gateway writes a batch again when this fails as if the server did not answer
    /// (<see cref="Core.Storage.StoreBusyException"/>); a COMMIT the server carried out and whose answer was lost is
    /// confirmed instead, for as long as the server takes to answer (<see cref="CommitConfirmedAsync"/>), or the batch
    /// written again counted every event, quota unit and billed overage twice.
    /// </summary>
    public override Task AddUsageEventsAsync(IReadOnlyList<UsageEvent> events, RawUsageEvents rawEvents, CancellationToken cancellationToken) =>
        events.Count == 0
            ? Task.CompletedTask
            : UseAsync(async (connection, ct) =>
            {
                var npgsql = (NpgsqlConnection)connection;
                await using var transaction = await npgsql.BeginTransactionAsync(ct);
                await WriteUsageAsync(npgsql, transaction, events, rawEvents, ct);
                await CommitConfirmedAsync(connection, transaction, Timeout.InfiniteTimeSpan, ct);
                AfterCommit(transaction);
                return true; // no version bump: usage is not configuration
            }, cancellationToken);

    /// <summary>Everything a batch writes, in its transaction: raw events, rollups, quota units, overage, crossings.</summary>
    private async Task WriteUsageAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IReadOnlyList<UsageEvent> events, RawUsageEvents rawEvents, CancellationToken ct)
    {
        if (rawEvents.KeepsAny(events))
        {
            // The hottest write in the product (one row per proxied request): binary COPY sends the rows as one
            // stream with no per-row statement, parse or parameter binding on either side.
            await CopyEventsAsync(connection, events, rawEvents, ct);
        }

        var aggregate = new UsageAggregate();
        aggregate.AddRange(events);
        // FOR SHARE: a compaction (FOR UPDATE) cannot move a watermark between this read and the commit, so a late
        // event lands in every granularity a read may take it from.
        var watermarks = await ReadWatermarksAsync(connection, transaction, WatermarksForShare, ct);
        long hours = watermarks.Hours.ToUnixTimeSeconds(), days = watermarks.Days.ToUnixTimeSeconds();

        await using var batch = new NpgsqlBatch(connection, transaction);
        // Rows locked in one order on every instance (rollups here, quota counters below), so two batches that touch
        // the same rows mostly wait for each other; a deadlock that still happens rolls the batch back whole and the
        // recorder writes it again.
        foreach (var delta in aggregate.Rollups.OrderBy(d => d.Key, UsageAggregate.RollupOrder))
        {
            batch.BatchCommands.Add(UpsertRollup(delta, UsageGranularity.Minute, delta.Key.Bucket));
            var hour = UsageAggregate.BucketOf(delta.Key.Bucket, UsageGranularity.Hour);
            if (delta.Key.Bucket < hours)
            {
                batch.BatchCommands.Add(UpsertRollup(delta, UsageGranularity.Hour, hour));
            }

            if (hour < days)
            {
                batch.BatchCommands.Add(UpsertRollup(delta, UsageGranularity.Day, UsageAggregate.BucketOf(delta.Key.Bucket, UsageGranularity.Day)));
            }
        }

        await batch.ExecuteNonQueryAsync(ct);
        await WriteQuotaAsync(connection, transaction, aggregate, events, ct);
        await RecordUsageCrossingsAsync(connection, transaction, events, ct);
    }

    private protected override Task AppendUsageRowsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<UsageEventRow> rows, CancellationToken cancellationToken) =>
        CopyEventsAsync((NpgsqlConnection)connection, rows.Select(r => r.ToDefinition()).ToList(), RawUsageEvents.All, cancellationToken); // a store copy keeps every row

    /// <summary>
    /// The quota counters in the batch's transaction (stored usage and stored quota units can never disagree): one round
    /// trip adds the units and reads the new totals; when the batch can be billed as overage, a second one adds the overage
    /// read off those totals and queues it for billing (docs/billing.md) — billed exactly for what is stored.
    /// </summary>
    private static async Task WriteQuotaAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, UsageAggregate aggregate,
        IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken)
    {
        var stored = new Dictionary<(string UserId, DateTimeOffset Period), long>();
        await using (var upserts = new NpgsqlBatch(connection, transaction))
        {
            var keys = new List<(string, DateTimeOffset)>();
            // In one order on every instance, like the rollups.
            foreach (var quota in aggregate.Quota.OrderBy(q => q.UserId, StringComparer.Ordinal).ThenBy(q => q.PeriodStart))
            {
                keys.Add((quota.UserId, quota.PeriodStart));
                upserts.BatchCommands.Add(new NpgsqlBatchCommand(UsageSql.UpsertQuota)
                {
                    Parameters =
                    {
                        new NpgsqlParameter<string>("UserId", quota.UserId),
                        new NpgsqlParameter<string>("Period", StoredValues.Time(quota.PeriodStart)),
                        new NpgsqlParameter<long>("Used", quota.Used),
                    },
                });
            }

            if (keys.Count == 0)
            {
                return;
            }

            await using var reader = await upserts.ExecuteReaderAsync(cancellationToken);
            foreach (var key in keys)
            {
                if (!await reader.ReadAsync(cancellationToken))
                {
                    throw new InvalidOperationException("quota_usage upsert returned no total");
                }

                stored[key] = reader.GetInt64(0);
                await reader.NextResultAsync(cancellationToken);
            }
        }

        if (!aggregate.CountsOverage)
        {
            return;
        }

        aggregate.CountOverage(events, (userId, period) => stored[(userId, period)]);
        await using var overage = new NpgsqlBatch(connection, transaction);
        foreach (var quota in aggregate.Quota)
        {
            if (quota.Overage > 0)
            {
                overage.BatchCommands.Add(new NpgsqlBatchCommand(UsageSql.AddQuotaOverage)
                {
                    Parameters =
                    {
                        new NpgsqlParameter<long>("Overage", quota.Overage),
                        new NpgsqlParameter<string>("UserId", quota.UserId),
                        new NpgsqlParameter<string>("Period", StoredValues.Time(quota.PeriodStart)),
                    },
                });
            }
        }

        foreach (var billed in aggregate.BilledOverage)
        {
            overage.BatchCommands.Add(new NpgsqlBatchCommand(UsageSql.InsertOverage)
            {
                Parameters =
                {
                    new NpgsqlParameter<string>("Id", UsageSql.NewOverageId()),
                    new NpgsqlParameter<string>("Meter", billed.Meter),
                    new NpgsqlParameter<long>("Units", billed.Units),
                    new NpgsqlParameter<string>("Period", StoredValues.Time(billed.PeriodStart)),
                    new NpgsqlParameter<long>("UsageAt", UsageSql.OverageTime(UsageSql.Newest(events), billed.PeriodStart)),
                    new NpgsqlParameter<string>("UserId", billed.UserId),
                },
            });
        }

        if (overage.BatchCommands.Count > 0)
        {
            await overage.ExecuteNonQueryAsync(cancellationToken);
        }
    }

    private static NpgsqlBatchCommand UpsertRollup(UsageAggregate.RollupDelta delta, UsageGranularity granularity, long bucket)
    {
        var command = new NpgsqlBatchCommand(UsageSql.UpsertRollup)
        {
            Parameters =
            {
                new NpgsqlParameter<long>("Granularity", (long)granularity),
                new NpgsqlParameter<long>("Bucket", bucket),
                new NpgsqlParameter<string>("UserId", delta.Key.UserId),
                new NpgsqlParameter<string>("KeyId", delta.Key.KeyId),
                new NpgsqlParameter<string>("RouteId", delta.Key.RouteId),
                new NpgsqlParameter<long>("StatusClass", delta.Key.StatusGroup),
                new NpgsqlParameter<long>("Requests", delta.Requests),
                new NpgsqlParameter<long>("Units", delta.Units),
                new NpgsqlParameter<long>("RequestBytes", delta.RequestBytes),
                new NpgsqlParameter<long>("ResponseBytes", delta.ResponseBytes),
                new NpgsqlParameter<double>("LatencyMsSum", delta.LatencyMsSum),
            },
        };
        for (var i = 0; i < UsageLatencyBuckets.Count; i++)
        {
            command.Parameters.Add(new NpgsqlParameter<long>(LatencyParameters[i], delta.LatencyBuckets[i]));
        }

        return command;
    }

    private static readonly string[] LatencyParameters = Enumerable.Range(0, UsageLatencyBuckets.Count).Select(i => $"Lat{i}").ToArray();

    private static async Task CopyEventsAsync(NpgsqlConnection connection, IReadOnlyList<UsageEvent> events, RawUsageEvents rawEvents, CancellationToken cancellationToken)
    {
        await using var copy = await connection.BeginBinaryImportAsync(CopyUsage, cancellationToken);
        for (var i = 0; i < events.Count; i++)
        {
            if (rawEvents.Keeps(events[i]))
            {
                await WriteRowAsync(copy, events[i], cancellationToken);
            }
        }

        await copy.CompleteAsync(cancellationToken);
    }

    /// <summary>One event in <see cref="UsageSql.EventColumns"/> order; the time as Unix microseconds (<see cref="UsageTime"/>).</summary>
    private static async Task WriteRowAsync(NpgsqlBinaryImporter copy, UsageEvent e, CancellationToken cancellationToken)
    {
        await copy.StartRowAsync(cancellationToken);
        await copy.WriteAsync(e.UserId, NpgsqlDbType.Text, cancellationToken);
        await copy.WriteAsync(e.KeyId, NpgsqlDbType.Text, cancellationToken);
        await copy.WriteAsync(e.RouteId, NpgsqlDbType.Text, cancellationToken);
        await copy.WriteAsync(e.UpstreamId, NpgsqlDbType.Text, cancellationToken);
        await copy.WriteAsync(e.Method, NpgsqlDbType.Text, cancellationToken);
        await copy.WriteAsync(e.Path, NpgsqlDbType.Text, cancellationToken);
        await copy.WriteAsync(e.Status, NpgsqlDbType.Integer, cancellationToken);
        await copy.WriteAsync(e.LatencyMs, NpgsqlDbType.Double, cancellationToken);
        await copy.WriteAsync(e.RequestBytes, NpgsqlDbType.Bigint, cancellationToken);
        await copy.WriteAsync(e.ResponseBytes, NpgsqlDbType.Bigint, cancellationToken);
        await copy.WriteAsync(e.Units, NpgsqlDbType.Bigint, cancellationToken);
        await copy.WriteAsync(e.ClientIp, NpgsqlDbType.Text, cancellationToken);
        await copy.WriteAsync(e.RequestId, NpgsqlDbType.Text, cancellationToken);
        await copy.WriteAsync(UsageTime.ToUnixMicroseconds(e.Timestamp), NpgsqlDbType.Bigint, cancellationToken);
    }
}
