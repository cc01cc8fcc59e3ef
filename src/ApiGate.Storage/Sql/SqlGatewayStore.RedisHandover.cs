using ApiGate.Core.Quotas;
using ApiGate.Storage.Rows;

namespace ApiGate.Storage.Sql;

/// <summary>
/// Quota units a stopping gateway could not add to Redis (<c>redis_handover</c>, migration 23), kept for the next
/// instance that reaches it (<see cref="Core.Storage.IRedisHandoverStore"/>).
/// </summary>
public abstract partial class SqlGatewayStore
{
    public Task HandOverRedisUnitsAsync(string dataSet, IReadOnlyList<QuotaUsage> units, CancellationToken cancellationToken) =>
        units.Count == 0
            ? Task.CompletedTask
            : WriteTransactionAsync(async (connection, transaction, ct) =>
            {
                foreach (var u in units.OrderBy(u => u.UserId, StringComparer.Ordinal).ThenBy(u => u.PeriodStart))
                {
                    await ExecuteAsync(connection, transaction, """
                        INSERT INTO redis_handover (data_set, user_id, period_start, units) VALUES (@DataSet, @UserId, @Period, @Units)
                        ON CONFLICT (data_set, user_id, period_start) DO UPDATE SET units = redis_handover.units + excluded.units
                        """, ct, new { DataSet = dataSet, u.UserId, Period = StoredValues.Time(u.PeriodStart), Units = u.Used });
                }

                return true;
            }, cancellationToken);

    public Task<IReadOnlyList<QuotaUsage>> TakeRedisUnitsAsync(string dataSet, DateTimeOffset expiredBefore, CancellationToken cancellationToken) =>
        WriteTransactionAsync<IReadOnlyList<QuotaUsage>>(async (connection, transaction, ct) =>
        {
            var period = new { DataSet = dataSet, Before = StoredValues.Time(expiredBefore) };
            // Times are stored in one fixed-width UTC format, so comparing the text compares the periods.
            await ExecuteAsync(connection, transaction, "DELETE FROM redis_handover WHERE period_start < @Before", ct, period);
            var rows = await QueryAsync<QuotaUsageRow>(connection, transaction,
                "DELETE FROM redis_handover WHERE data_set = @DataSet RETURNING user_id, period_start, units AS used", period, ct);
            return rows.Where(r => r.Used != 0).Select(r => new QuotaUsage(r.UserId, StoredValues.Time(r.PeriodStart), r.Used, 0)).ToList();
        }, cancellationToken);
}
