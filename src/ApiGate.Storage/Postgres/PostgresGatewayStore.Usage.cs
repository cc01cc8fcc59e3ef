using ApiGate.Core.Usage;
using ApiGate.Storage.Rows;
using Npgsql;
using NpgsqlTypes;

namespace ApiGate.Storage.Postgres;

/// <summary>Usage events (SPEC §8): a batch is one binary COPY plus its quota units, in one transaction.</summary>
public sealed partial class PostgresGatewayStore
{
    private const string CopyUsage = $"COPY usage_events ({UsageColumns}) FROM STDIN (FORMAT BINARY)";

    public override Task AddUsageEventsAsync(IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken) =>
        events.Count == 0
            ? Task.CompletedTask
            : WriteTransactionAsync(async (connection, transaction, ct) =>
            {
                // The hottest write in the product (one row per proxied request): binary COPY sends the rows as one
                // stream with no per-row statement, parse or parameter binding on either side.
                await CopyEventsAsync((NpgsqlConnection)connection, events, ct);

                foreach (var delta in QuotaDeltas(events))
                {
                    await AddQuotaAsync(connection, transaction, delta, ct);
                }

                return true; // no version bump: usage is not configuration
            }, cancellationToken);

    private protected override Task AppendUsageRowsAsync(
        System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, IReadOnlyList<UsageEventRow> rows, CancellationToken cancellationToken) =>
        CopyEventsAsync((NpgsqlConnection)connection, rows.Select(r => r.ToDefinition()).ToList(), cancellationToken);

    private static async Task CopyEventsAsync(NpgsqlConnection connection, IReadOnlyList<UsageEvent> events, CancellationToken cancellationToken)
    {
        await using var copy = await connection.BeginBinaryImportAsync(CopyUsage, cancellationToken);
        foreach (var e in events)
        {
            await WriteRowAsync(copy, e, cancellationToken);
        }

        await copy.CompleteAsync(cancellationToken);
    }

    /// <summary>One event in <see cref="Sql.SqlGatewayStore.UsageColumns"/> order.</summary>
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
        await copy.WriteAsync(StoredValues.Time(e.Timestamp), NpgsqlDbType.Text, cancellationToken);
    }
}
