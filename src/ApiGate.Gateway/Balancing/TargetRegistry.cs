using System.Collections.Concurrent;
using ApiGate.Core.Text;
using ApiGate.Core.Timing;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Balancing;

/// <summary>
/// Every target's long-lived runtime state, keyed by (upstream id, target URL), the way
/// the connection pool keeps clients: snapshots reference the states, so health, counters and in-flight
/// requests survive config reloads. Health transitions are logged here and handed to <see cref="TargetHealthReporter"/>;
/// nothing here runs per request except the state's own counters.
/// </summary>
internal sealed partial class TargetRegistry(TimeProvider timeProvider, TargetHealthReporter reporter, ILogger<TargetRegistry> logger)
{
    private readonly ConcurrentDictionary<(string UpstreamId, string Url), TargetState> _states = new();
    private readonly ChangeSignal _ejected = new();

    /// <summary>
    /// Completes when a target is next ejected by traffic (read it before looking at the states): the health prober
    /// sleeps until its next due probe and must learn of a cool-down that started meanwhile.
    /// </summary>
    public Task NextEjection => _ejected.Next;

    /// <summary>The state of a target, created healthy on first use.</summary>
    public TargetState Get(string upstreamId, string url, int weight)
    {
        var state = _states.GetOrAdd((upstreamId, url), static (key, self) => new TargetState(self, key.UpstreamId, key.Url, self.Now()), this);
        state.Weight = weight;
        return state;
    }

    /// <summary>
    /// After a snapshot swap: forgets targets the snapshot no longer uses, publishes the ones it newly uses, and puts
    /// targets of upstreams whose active checks were turned off back in service.
    /// </summary>
    /// <param name="live">Each upstream of the new snapshot: its targets and its health policy.</param>
    public void Retain(IEnumerable<(IReadOnlyList<TargetBinding> Targets, TargetHealthPolicy Health)> live)
    {
        var inUse = new HashSet<TargetState>(ReferenceEqualityComparer.Instance);
        foreach (var upstream in live)
        {
            foreach (var target in upstream.Targets)
            {
                if (!inUse.Add(target.State))
                {
                    continue;
                }

                target.State.Rebind(upstream.Health);

                if (!target.State.Published)
                {
                    target.State.Published = true;
                    reporter.Publish(target.State);
                }
            }
        }

        foreach (var (key, state) in _states)
        {
            if (!inUse.Contains(state) && _states.TryRemove(key, out _))
            {
                state.Retired = true;
                reporter.Remove(state);
            }
        }
    }

    /// <summary>
    /// Every known target's state, for diagnostics and tests. The <c>/metrics</c> instruments
    /// (<see cref="Observability.TargetMetrics"/>) read the states through the current snapshot instead, which also
    /// knows each upstream's slug (the registry only knows ids).
    /// </summary>
    public IReadOnlyList<TargetStatus> Statuses() => [.. _states.Values.Select(s => s.Status()).OrderBy(s => s.UpstreamId, StringComparer.Ordinal).ThenBy(s => s.Url, StringComparer.Ordinal)];

    internal DateTimeOffset Now() => timeProvider.GetUtcNow();

    internal long Timestamp() => timeProvider.GetTimestamp();

    internal long TimestampFrequency => timeProvider.TimestampFrequency;

    internal void OnTransition(TargetState state, TargetHealth from, TargetHealth to)
    {
        if (to == TargetHealth.Healthy)
        {
            LogRecovered(state.UpstreamId, state.Label, WireNames.Of(from), state.Reason);
        }
        else if (to == TargetHealth.Trial)
        {
            LogTrial(state.UpstreamId, state.Label);
        }
        else
        {
            LogDown(state.UpstreamId, state.Label, WireNames.Of(to), state.Reason);
        }

        if (state.Published && !state.Retired)
        {
            reporter.Publish(state);
        }

        if (to == TargetHealth.Ejected)
        {
            _ejected.Raise();
        }
    }

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Upstream {UpstreamId} target {Target} is healthy again (was {From}): {Reason}")]
    private partial void LogRecovered(string upstreamId, string target, string from, string reason);

    [LoggerMessage(EventId = 3102, Level = LogLevel.Warning, Message = "Upstream {UpstreamId} target {Target} is now {State}: {Reason}")]
    private partial void LogDown(string upstreamId, string target, string state, string reason);

    [LoggerMessage(EventId = 3103, Level = LogLevel.Information, Message = "Upstream {UpstreamId} target {Target}: cool-down over, sending one trial request")]
    private partial void LogTrial(string upstreamId, string target);
}
