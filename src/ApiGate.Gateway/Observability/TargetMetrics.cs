using System.Diagnostics;
using System.Diagnostics.Metrics;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Snapshots;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// Per-target instruments (SPEC §10 "upstream target health") on the <c>ApiGate</c> meter. Health, request, failure
/// and in-flight figures are observable instruments: each scrape reads the counters <see cref="TargetState"/> keeps
/// for the balancer anyway, so they cost nothing per request. The targets observed are those of the snapshot being
/// served, so a target a reload removed is no longer reported (its series leaves the scrape). Only retries are counted
/// as they happen, from the finished request (<see cref="RecordRetries"/>).
/// </summary>
internal sealed class TargetMetrics
{
    private readonly SnapshotManager _snapshots;
    private readonly Counter<long> _retries;

    public TargetMetrics(Meter meter, SnapshotManager snapshots)
    {
        _snapshots = snapshots;
        meter.CreateObservableGauge("apigate.upstream.target.healthy", () => Observe(static s => s.IsHealthy ? 1 : 0),
            description: "1 while the target takes ordinary traffic (healthy, including a new target not checked yet), 0 while unhealthy, ejected or on trial.");
        meter.CreateObservableCounter("apigate.upstream.target.requests", () => Observe(static s => s.RequestsTotal),
            description: "Requests sent to the target (each attempt: a retried request counts on both targets).");
        meter.CreateObservableCounter("apigate.upstream.target.failures", () => Observe(static s => s.FailuresTotal),
            description: "Requests to the target that failed: transport failure, timeout or 5xx response.");
        meter.CreateObservableGauge("apigate.upstream.target.in_flight", () => Observe(static s => s.InFlight),
            description: "Requests to the target still in progress (streams and WebSockets until they end).");
        _retries = meter.CreateCounter<long>("apigate.upstream.retries", description: "Requests retried once on another target of the upstream.");
    }

    /// <summary>Counts the retries of one finished request (<paramref name="attempts"/> − 1; nothing for 0 or 1).</summary>
    public void RecordRetries(string upstream, int attempts)
    {
        if (attempts > 1 && _retries.Enabled)
        {
            _retries.Add(attempts - 1, new KeyValuePair<string, object?>("upstream", upstream));
        }
    }

    /// <summary>One measurement per target of the current snapshot, labelled with the upstream slug and target URL.</summary>
    private List<Measurement<long>> Observe(Func<TargetState, long> value)
    {
        var measurements = new List<Measurement<long>>();
        if (_snapshots.Current is not { } snapshot)
        {
            return measurements;
        }

        // Routes share upstream bindings and a target URL may be listed twice: one series per target state.
        var seen = new HashSet<TargetState>(ReferenceEqualityComparer.Instance);
        foreach (var upstream in snapshot.RouteUpstreams)
        {
            Add(upstream);
        }

        Add(snapshot.DefaultUpstream);
        return measurements;

        void Add(UpstreamBinding? upstream)
        {
            if (upstream is null)
            {
                return;
            }

            foreach (var target in upstream.Targets)
            {
                if (seen.Add(target.State))
                {
                    measurements.Add(new Measurement<long>(value(target.State), new TagList
                    {
                        { "upstream", upstream.Definition.Slug },
                        { "target", target.State.Label },
                    }));
                }
            }
        }
    }
}
