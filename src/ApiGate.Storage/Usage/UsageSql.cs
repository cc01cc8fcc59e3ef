using System.Globalization;
using ApiGate.Core.Usage;

namespace ApiGate.Storage.Usage;

/// <summary>
/// The usage statements every store engine runs (SPEC §8), in portable SQL: named parameters (<c>@Name</c>; SQLite binds
/// them by position in order of first appearance, Npgsql by name), integer time buckets in Unix seconds computed in C#,
/// raw event times in Unix microseconds (<see cref="UsageTime"/>), rollups as <c>INSERT … ON CONFLICT DO UPDATE</c>,
/// grouping by column position, sums cast back to <c>BIGINT</c> where they are read (PostgreSQL's SUM of a bigint is numeric).
/// </summary>
internal static class UsageSql
{
    public const string EventColumns =
        "user_id, key_id, route_id, upstream_id, method, path, status, latency_ms, request_bytes, response_bytes, units, client_ip, request_id, timestamp";

    public const string InsertEvent =
        $"INSERT INTO usage_events ({EventColumns}) VALUES (@UserId, @KeyId, @RouteId, @UpstreamId, @Method, @Path, @Status, @LatencyMs, " +
        "@RequestBytes, @ResponseBytes, @Units, @ClientIp, @RequestId, @Timestamp)";

    /// <summary>The histogram columns, <c>lat_0</c> … <c>lat_11</c> (bounds in <see cref="UsageLatencyBuckets"/>).</summary>
    public static readonly string LatencyColumns = string.Join(", ", Enumerable.Range(0, UsageLatencyBuckets.Count).Select(i => $"lat_{i}"));

    public static readonly string RollupColumns =
        "granularity, bucket, user_id, key_id, route_id, status_class, requests, units, request_bytes, response_bytes, latency_ms_sum, " + LatencyColumns;

    private static readonly string RollupConflict =
        "ON CONFLICT (user_id, granularity, bucket, key_id, route_id, status_class) DO UPDATE SET " +
        string.Join(", ", new[] { "requests", "units", "request_bytes", "response_bytes", "latency_ms_sum" }
            .Concat(Enumerable.Range(0, UsageLatencyBuckets.Count).Select(i => $"lat_{i}"))
            .Select(c => $"{c} = usage_rollups.{c} + excluded.{c}"));

    /// <summary>Adds one delta to a rollup row (bound in <see cref="RollupColumns"/> order).</summary>
    public static readonly string UpsertRollup =
        $"INSERT INTO usage_rollups ({RollupColumns}) VALUES (@Granularity, @Bucket, @UserId, @KeyId, @RouteId, @StatusClass, @Requests, @Units, " +
        "@RequestBytes, @ResponseBytes, @LatencyMsSum, " + string.Join(", ", Enumerable.Range(0, UsageLatencyBuckets.Count).Select(i => $"@Lat{i}")) + ") " + RollupConflict;

    /// <summary>
    /// Adds a batch's units to a user's stored quota counter and returns the new total, which the batch's overage is read
    /// from (<see cref="Core.Usage.UsageAggregate.CountOverage"/>): the row stays locked until the batch commits, so
    /// batches from every instance count one after another.
    /// </summary>
    public const string UpsertQuota =
        "INSERT INTO quota_usage (user_id, period_start, used, overage) VALUES (@UserId, @Period, @Used, 0) " +
        "ON CONFLICT (user_id, period_start) DO UPDATE SET used = quota_usage.used + excluded.used RETURNING used";

    /// <summary>Adds a batch's overage to the counter <see cref="UpsertQuota"/> wrote in the same transaction.</summary>
    public const string AddQuotaOverage =
        "UPDATE quota_usage SET overage = overage + @Overage WHERE user_id = @UserId AND period_start = @Period";

    /// <summary>
    /// Queues a user's overage units of one batch for billing (docs/billing.md), in the batch's transaction, to the meter
    /// of the plan the requests were admitted on (carried by each event, not read from the user's plan now: a plan change
    /// between the requests and this write must not move or drop them); only when the user is a billing customer (else
    /// nothing is inserted). The id is the row's idempotency key at the provider.
    /// </summary>
    public const string InsertOverage =
        "INSERT INTO billing_usage_outbox (id, user_id, customer_id, meter_event, units, period_start, usage_at) " +
        "SELECT @Id, c.user_id, c.customer_id, @Meter, @Units, @Period, @UsageAt FROM billing_customers c WHERE c.user_id = @UserId";

    /// <summary>A new outbox row id: random, so ids never repeat across stores that bill the same Stripe account.</summary>
    public static string NewOverageId() => ApiGate.Core.Text.Ids.New("apigate_overage");

    /// <summary>
    /// The time overage units are reported at (Unix seconds): the batch's newest event, kept inside the units' calendar
    /// month so they are billed in the period they were used in.
    /// </summary>
    public static long OverageTime(DateTimeOffset newestEvent, DateTimeOffset periodStart) =>
        Math.Min(newestEvent.ToUnixTimeSeconds(), periodStart.AddMonths(1).ToUnixTimeSeconds() - 1);

    /// <summary>The newest timestamp of a batch.</summary>
    public static DateTimeOffset Newest(IReadOnlyList<UsageEvent> events)
    {
        var newest = DateTimeOffset.MinValue;
        for (var i = 0; i < events.Count; i++)
        {
            if (events[i].Timestamp > newest)
            {
                newest = events[i].Timestamp;
            }
        }

        return newest;
    }

    public const string SelectWatermarks = "SELECT granularity, compacted_until FROM usage_compaction";

    public const string SetWatermark = "UPDATE usage_compaction SET compacted_until = @Until WHERE granularity = @Granularity";

    public const string FirstBucket = "SELECT MIN(bucket) FROM usage_rollups WHERE granularity = @Granularity AND bucket >= @From";

    /// <summary>Sums the source rows of [@Start, @End) into buckets of width @Into (grouped by column position: portable).</summary>
    public static readonly string Compact =
        $"INSERT INTO usage_rollups ({RollupColumns}) " +
        "SELECT @Into, bucket - bucket % @Into, user_id, key_id, route_id, status_class, SUM(requests), SUM(units), SUM(request_bytes), SUM(response_bytes), " +
        "SUM(latency_ms_sum), " + string.Join(", ", Enumerable.Range(0, UsageLatencyBuckets.Count).Select(i => $"SUM(lat_{i})")) + " " +
        "FROM usage_rollups WHERE granularity = @From AND bucket >= @Start AND bucket < @End GROUP BY 1, 2, 3, 4, 5, 6 " + RollupConflict;

    /// <summary>
    /// A user's totals per stored bucket over three disjoint ranges: day rows, hour rows, minute rows. Three index range
    /// scans joined by <c>UNION ALL</c> (one <c>OR</c> of the three made SQLite scan every row of the user).
    /// </summary>
    public static readonly string Totals = string.Join(" UNION ALL ",
        TotalsOf(UsageGranularity.Day, "@DayFrom", "@DayTo"),
        TotalsOf(UsageGranularity.Hour, "@HourFrom", "@HourTo"),
        TotalsOf(UsageGranularity.Minute, "@MinuteFrom", "@MinuteTo"));

    private static string TotalsOf(UsageGranularity granularity, string from, string to) =>
        "SELECT granularity, bucket, CAST(SUM(requests) AS BIGINT) AS requests, CAST(SUM(units) AS BIGINT) AS units, " +
        "CAST(SUM(request_bytes) AS BIGINT) AS request_bytes, CAST(SUM(response_bytes) AS BIGINT) AS response_bytes, " +
        "CAST(SUM(CASE WHEN status_class BETWEEN 5 AND 99 OR status_class >= 500 THEN requests ELSE 0 END) AS BIGINT) AS errors " +
        $"FROM usage_rollups WHERE user_id = @User AND granularity = {(int)granularity} AND bucket >= {from} AND bucket < {to} GROUP BY granularity, bucket";

    public static readonly string Rollups =
        "SELECT granularity, bucket, user_id, key_id, route_id, status_class, requests, units, request_bytes, response_bytes, latency_ms_sum, " +
        string.Join(", ", Enumerable.Range(0, UsageLatencyBuckets.Count).Select(i => $"lat_{i} AS lat{i}")) + " FROM usage_rollups WHERE user_id = @User AND granularity = @Granularity AND bucket >= @From AND bucket < @To " +
        "ORDER BY bucket, key_id, route_id, status_class";

    /// <summary>Every user's rows of one granularity in [@From, @To), summed per bucket and status group (the dashboard's series).</summary>
    public static readonly string GatewaySeries =
        "SELECT granularity, bucket, '' AS user_id, '' AS key_id, '' AS route_id, status_class, CAST(SUM(requests) AS BIGINT) AS requests, " +
        "CAST(SUM(units) AS BIGINT) AS units, CAST(SUM(request_bytes) AS BIGINT) AS request_bytes, CAST(SUM(response_bytes) AS BIGINT) AS response_bytes, " +
        "SUM(latency_ms_sum) AS latency_ms_sum, " +
        string.Join(", ", Enumerable.Range(0, UsageLatencyBuckets.Count).Select(i => $"CAST(SUM(lat_{i}) AS BIGINT) AS lat{i}")) +
        " FROM usage_rollups WHERE granularity = @Granularity AND bucket >= @From AND bucket < @To GROUP BY granularity, bucket, status_class ORDER BY bucket, status_class";

    /// <summary>Totals per user (or route) over the three disjoint ranges of <see cref="Totals"/>, largest units first.</summary>
    public static string Leaders(string column) =>
        "SELECT id, CAST(SUM(requests) AS BIGINT) AS requests, CAST(SUM(units) AS BIGINT) AS units, CAST(SUM(errors) AS BIGINT) AS errors FROM (" +
        string.Join(" UNION ALL ",
            LeadersOf(column, UsageGranularity.Day, "@DayFrom", "@DayTo"),
            LeadersOf(column, UsageGranularity.Hour, "@HourFrom", "@HourTo"),
            LeadersOf(column, UsageGranularity.Minute, "@MinuteFrom", "@MinuteTo")) +
        ") leaders GROUP BY id ORDER BY units DESC, requests DESC, id LIMIT @Limit";

    private static string LeadersOf(string column, UsageGranularity granularity, string from, string to) =>
        $"SELECT {column} AS id, requests, units, CASE WHEN status_class BETWEEN 5 AND 99 OR status_class >= 500 THEN requests ELSE 0 END AS errors " +
        $"FROM usage_rollups WHERE granularity = {(int)granularity} AND bucket >= {from} AND bucket < {to}";

    /// <summary>Every rollup row of the store, as stored (<c>apigate store copy</c>), in the order they were first written.</summary>
    public static readonly string AllRollups =
        "SELECT granularity, bucket, user_id, key_id, route_id, status_class, requests, units, request_bytes, response_bytes, latency_ms_sum, " +
        string.Join(", ", Enumerable.Range(0, UsageLatencyBuckets.Count).Select(i => $"lat_{i} AS lat{i}")) + " FROM usage_rollups ORDER BY id";

    public const string PruneEvents =
        "DELETE FROM usage_events WHERE id IN (SELECT id FROM usage_events WHERE timestamp < @Before ORDER BY timestamp LIMIT @Max)";

    public const string PruneRollups =
        "DELETE FROM usage_rollups WHERE id IN (SELECT id FROM usage_rollups WHERE granularity = @Granularity AND bucket < @Before ORDER BY bucket LIMIT @Max)";

    /// <summary>The histogram columns' sums over raw events (the backfill of both engines' migration 7): one <c>SUM(bucket condition)</c> per bucket.</summary>
    public static string LatencyHistogram(string column)
    {
        var bounds = UsageLatencyBuckets.UpperBoundsMs;
        var sums = new List<string>();
        for (var i = 0; i <= bounds.Length; i++)
        {
            var lower = i == 0 ? "" : $"{column} > {bounds[i - 1].ToString(CultureInfo.InvariantCulture)}";
            var upper = i == bounds.Length ? "" : $"{column} <= {bounds[i].ToString(CultureInfo.InvariantCulture)}";
            var condition = (lower, upper) switch
            {
                ("", _) => $"NOT ({column} > {bounds[0].ToString(CultureInfo.InvariantCulture)})",
                (_, "") => lower,
                _ => $"{lower} AND {upper}",
            };
            sums.Add($"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)");
        }

        return string.Join(", ", sums);
    }
}
