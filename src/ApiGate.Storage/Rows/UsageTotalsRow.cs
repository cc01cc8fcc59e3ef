using ApiGate.Core.Storage;

namespace ApiGate.Storage.Rows;

/// <summary>Usage totals of a period as an aggregate query returns them (<see cref="Sql"/>), optionally per <see cref="Month"/>.</summary>
internal sealed record UsageTotalsRow
{
    /// <summary>The aggregate columns, named for this record.</summary>
    public const string Sql =
        "COUNT(*) AS requests, COALESCE(SUM(units), 0) AS units, COALESCE(SUM(request_bytes), 0) AS request_bytes, " +
        "COALESCE(SUM(response_bytes), 0) AS response_bytes, COALESCE(SUM(status >= 500), 0) AS errors";

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
