using ApiGate.Core.Storage;
using ApiGate.Core.Upstreams;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// <c>GET /upstreams/{id}/targets</c>: each configured target in list order, and in <c>meta</c> which upstream and
/// which gateway instance answered (so a client can tell this instance's row among <c>reports</c>).
/// </summary>
public sealed record TargetStatesDocument(IReadOnlyList<TargetStateView> Data, TargetStatesMeta Meta);

/// <summary>The upstream and the answering gateway instance (host/pid/random, as in <c>target_health</c>).</summary>
public sealed record TargetStatesMeta(string UpstreamId, string InstanceId);

/// <summary>
/// One target: its URL and weight, this instance's live state (<c>null</c> when this instance does not balance
/// over the upstream, e.g. no route uses it), and what every running gateway reported to the store.
/// </summary>
public sealed record TargetStateView(string Url, int Weight, LiveTargetState? Live, IReadOnlyList<TargetHealthReport> Reports);

/// <summary>
/// This instance's view of a target, read from its in-memory registry: state (<c>healthy</c>, <c>unhealthy</c>,
/// <c>ejected</c>, <c>trial</c>), since when and why, failures in a row, requests in flight, and totals since the
/// target came into use on this instance.
/// </summary>
public sealed record LiveTargetState(
    string State,
    DateTimeOffset Since,
    string Reason,
    int ConsecutiveFailures,
    int InFlight,
    long RequestsTotal,
    long FailuresTotal);
