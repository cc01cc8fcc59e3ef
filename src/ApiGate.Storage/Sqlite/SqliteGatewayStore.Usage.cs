using ApiGate.Core.Usage;
using ApiGate.Storage.Rows;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ApiGate.Storage.Sqlite;

/// <summary>Usage events (SPEC §8): appended in batches through SQLite's own API (the reads are shared, see <see cref="SqlGatewayStore"/>).</summary>
public sealed partial class SqliteGatewayStore
{
    public override async Task AddUsageEventsAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken)
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
        // the process stops.
        foreach (var delta in QuotaDeltas(events))
        {
            await AddQuotaAsync(connection, transaction, delta, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken); // no version bump: usage is not configuration
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
