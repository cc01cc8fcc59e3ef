namespace ApiGate.Storage.Rows;

/// <summary>A user's usage totals in one stored rollup bucket, as <see cref="Usage.UsageSql.Totals"/> returns them.</summary>
internal sealed record UsageTotalsRow
{
    public long Granularity { get; init; }

    /// <summary>The bucket's start in Unix seconds.</summary>
    public long Bucket { get; init; }
    public long Requests { get; init; }
    public long Units { get; init; }
    public long RequestBytes { get; init; }
    public long ResponseBytes { get; init; }
    public long Errors { get; init; }
}
