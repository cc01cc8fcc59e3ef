using ApiGate.Core.Storage;

namespace ApiGate.Storage.Rows;

/// <summary>Usage totals of a period as an aggregate query returns them (<see cref="Sql"/>), optionally per <see cref="Month"/>.</summary>
internal sealed record UsageTotalsRow
{
    /// <summary>
    /// The aggregate columns, named for this record; the same SQL for SQLite and PostgreSQL (whose SUM of bigint is
    /// numeric, hence the casts, and which does not add booleans).
    /// </summary>
    public const string Sql =
        "COUNT(*) AS requests, CAST(COALESCE(SUM(units), 0) AS BIGINT) AS units, CAST(COALESCE(SUM(request_bytes), 0) AS BIGINT) AS request_bytes, " +
        "CAST(COALESCE(SUM(response_bytes), 0) AS BIGINT) AS response_bytes, COUNT(CASE WHEN status >= 500 THEN 1 END) AS errors";

    /// <summary>The calendar month (<c>yyyy-MM</c>) of a per-month query; empty otherwise.</summary>
    public string Month { get; init; } = "";
    public long Requests { get; init; }
    public long Units { get; init; }
    public long RequestBytes { get; init; }
    public long ResponseBytes { get; init; }
    public long Errors { get; init; }

    public UsageSummary ToSummary(DateTimeOffset periodStart, DateTimeOffset periodEnd) =>
        new(periodStart, periodEnd, Requests, Units, RequestBytes, ResponseBytes, Errors);
}
