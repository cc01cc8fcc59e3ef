namespace ApiGate.Core.Usage;

/// <summary>
/// How stores keep a raw event's timestamp: whole microseconds since the Unix epoch, UTC (an 8-byte integer; what
/// PostgreSQL's timestamps resolve too). Finer ticks are dropped.
/// </summary>
public static class UsageTime
{
    public static long ToUnixMicroseconds(DateTimeOffset at) => (at.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;

    public static DateTimeOffset FromUnixMicroseconds(long microseconds) => DateTimeOffset.UnixEpoch.AddTicks(microseconds * 10);
}
