namespace ApiGate.Core.Usage;

/// <summary>
/// Usage aggregated over one time bucket for one (user, key, route, status class): what every usage read, chart and
/// bill is computed from (SPEC §8). <see cref="BucketStart"/> is a multiple of the bucket width in UTC (minute, hour or
/// day); <see cref="StatusClass"/> is the status divided by 100 (2 for 2xx, 5 for 5xx).
/// </summary>
public sealed record UsageRollup(
    UsageGranularity Granularity,
    DateTimeOffset BucketStart,
    string UserId,
    string KeyId,
    string RouteId,
    int StatusClass,
    long Requests,
    long Units,
    long RequestBytes,
    long ResponseBytes,
    double LatencyMsSum,
    IReadOnlyList<long> LatencyBuckets)
{
    /// <summary>The status class of a status code: 0 to 9 (a code outside 0-999 counts as 9).</summary>
    public static int ClassOf(int status) => status is >= 0 and < 1000 ? status / 100 : 9;
}
