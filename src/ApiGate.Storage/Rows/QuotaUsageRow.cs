namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>quota_usage</c>: a user's used and overage units in one period (empty when a query reads one period).</summary>
internal sealed record QuotaUsageRow
{
    public string UserId { get; init; } = "";
    public long Used { get; init; }
    public long Overage { get; init; }
    public string PeriodStart { get; init; } = "";
}
