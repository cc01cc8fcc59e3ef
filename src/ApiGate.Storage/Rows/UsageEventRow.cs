using ApiGate.Core.Usage;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>usage_events</c> as read back (the hot insert binds the event itself, see the SQLite store).</summary>
internal record UsageEventRow
{
    public string UserId { get; init; } = "";
    public string KeyId { get; init; } = "";
    public string RouteId { get; init; } = "";
    public string UpstreamId { get; init; } = "";
    public string Method { get; init; } = "";
    public string Path { get; init; } = "";
    public int Status { get; init; }
    public double LatencyMs { get; init; }
    public long RequestBytes { get; init; }
    public long ResponseBytes { get; init; }
    public long Units { get; init; }
    public string ClientIp { get; init; } = "";
    public string RequestId { get; init; } = "";
    /// <summary>Unix microseconds (<see cref="UsageTime"/>).</summary>
    public long Timestamp { get; init; }

    public UsageEvent ToDefinition() => new()
    {
        UserId = UserId,
        KeyId = KeyId,
        RouteId = RouteId,
        UpstreamId = UpstreamId,
        Method = Method,
        Path = Path,
        Status = Status,
        LatencyMs = LatencyMs,
        RequestBytes = RequestBytes,
        ResponseBytes = ResponseBytes,
        Units = Units,
        ClientIp = ClientIp,
        RequestId = RequestId,
        Timestamp = UsageTime.FromUnixMicroseconds(Timestamp),
    };
}

/// <summary>A row of <c>usage_events</c> with its id, which the recent-usage list's cursor names.</summary>
internal sealed record NumberedUsageEventRow : UsageEventRow
{
    public long Id { get; init; }
}
