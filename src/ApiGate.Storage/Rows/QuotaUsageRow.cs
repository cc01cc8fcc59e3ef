namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>quota_usage</c> for one period: a user's used and overage units.</summary>
internal sealed record QuotaUsageRow
{
    public string UserId { get; init; } = "";
    public long Used { get; init; }
    public long Overage { get; init; }
}
