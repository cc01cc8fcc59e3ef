using ApiGate.Core.Storage;
using ApiGate.Core.Upstreams;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>target_health</c>: one gateway instance's view of one target.</summary>
internal sealed record TargetHealthRow
{
    public string InstanceId { get; init; } = "";
    public string UpstreamId { get; init; } = "";
    public string TargetUrl { get; init; } = "";
    public string State { get; init; } = "";
    public string Since { get; init; } = "";
    public string Reason { get; init; } = "";
    public string ReportedAt { get; init; } = "";

    public static TargetHealthRow From(TargetHealthReport r) => new()
    {
        InstanceId = r.InstanceId,
        UpstreamId = r.UpstreamId,
        TargetUrl = r.TargetUrl,
        State = r.State,
        Since = StoredValues.Time(r.Since),
        Reason = r.Reason,
        ReportedAt = StoredValues.Time(r.ReportedAt),
    };

    public TargetHealthReport ToDefinition() => new()
    {
        InstanceId = InstanceId,
        UpstreamId = UpstreamId,
        TargetUrl = TargetUrl,
        State = State,
        Since = StoredValues.Time(Since),
        Reason = Reason,
        ReportedAt = StoredValues.Time(ReportedAt),
    };
}
