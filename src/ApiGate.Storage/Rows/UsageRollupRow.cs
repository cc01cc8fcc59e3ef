using ApiGate.Core.Usage;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>usage_rollups</c> as read back (<see cref="Usage.UsageSql.RollupColumns"/>).</summary>
internal sealed record UsageRollupRow
{
    public long Granularity { get; init; }
    public long Bucket { get; init; }
    public string UserId { get; init; } = "";
    public string KeyId { get; init; } = "";
    public string RouteId { get; init; } = "";
    public long StatusClass { get; init; }
    public long Requests { get; init; }
    public long Units { get; init; }
    public long RequestBytes { get; init; }
    public long ResponseBytes { get; init; }
    public double LatencyMsSum { get; init; }
    public long Lat0 { get; init; }
    public long Lat1 { get; init; }
    public long Lat2 { get; init; }
    public long Lat3 { get; init; }
    public long Lat4 { get; init; }
    public long Lat5 { get; init; }
    public long Lat6 { get; init; }
    public long Lat7 { get; init; }
    public long Lat8 { get; init; }
    public long Lat9 { get; init; }
    public long Lat10 { get; init; }
    public long Lat11 { get; init; }

    public UsageRollup ToDefinition() => new(
        (UsageGranularity)Granularity, DateTimeOffset.FromUnixTimeSeconds(Bucket), UserId, KeyId, RouteId, (int)StatusClass, Requests, Units,
        RequestBytes, ResponseBytes, LatencyMsSum, [Lat0, Lat1, Lat2, Lat3, Lat4, Lat5, Lat6, Lat7, Lat8, Lat9, Lat10, Lat11]);
}
