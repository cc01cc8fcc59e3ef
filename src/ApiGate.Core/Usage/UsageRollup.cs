namespace ApiGate.Core.Usage;

/// <summary>
/// Usage aggregated over one time bucket for one (user, key, route, status group): what every usage read, chart and
/// bill is computed from (SPEC §8). <see cref="BucketStart"/> is a multiple of the bucket width in UTC (minute, hour or
/// day). <see cref="StatusGroup"/> is what the rows are kept apart by (<see cref="GroupOf"/>): the status class for a
/// success or redirect (2 for 2xx), the code itself for an error answer (401, 429, 502), so errors can be told apart by
/// code while successful traffic stays one row per class.
/// </summary>
public sealed record UsageRollup(
    UsageGranularity Granularity,
    DateTimeOffset BucketStart,
    string UserId,
    string KeyId,
    string RouteId,
    int StatusGroup,
    long Requests,
    long Units,
    long RequestBytes,
    long ResponseBytes,
    double LatencyMsSum,
    IReadOnlyList<long> LatencyBuckets)
{
    /// <summary>The status class of the rows: 2 for 2xx, 5 for 5xx.</summary>
    public int StatusClass => ClassOfGroup(StatusGroup);

    /// <summary>The error code the rows were answered with (400–599), or null: a class (success, or rows kept before codes were).</summary>
    public int? ErrorCode => StatusGroup >= 100 ? StatusGroup : null;

    /// <summary>
    /// How an error answer's rows are named where errors are counted by code: the code (<c>429</c>), or the class
    /// (<c>5xx</c>) for rows kept before errors were rolled up by code; null for a success or redirect.
    /// </summary>
    public string? ErrorLabel => StatusClass < 4 ? null : ErrorCode is { } code ? code.ToString(System.Globalization.CultureInfo.InvariantCulture) : StatusClass.ToString(System.Globalization.CultureInfo.InvariantCulture) + "xx";

    /// <summary>The status class of a status code: 0 to 9 (a code outside 0-999 counts as 9).</summary>
    public static int ClassOf(int status) => status is >= 0 and < 1000 ? status / 100 : 9;

    /// <summary>The group a status is rolled up in: the code for an error answer (400–599), else its class.</summary>
    public static int GroupOf(int status) => status is >= 400 and <= 599 ? status : ClassOf(status);

    /// <summary>The status class of a group (<see cref="GroupOf"/>).</summary>
    public static int ClassOfGroup(int group) => group >= 100 ? group / 100 : group;
}
