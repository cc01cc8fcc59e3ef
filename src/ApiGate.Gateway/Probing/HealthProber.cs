using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using ApiGate.Core.Timing;
using ApiGate.Gateway.Snapshots;
using Microsoft.Extensions.Hosting;

using ApiGate.Gateway.Balancing;

namespace ApiGate.Gateway.Probing;

/// <summary>
/// Active health checks: probes every target of each live upstream that has a health-check path, once per interval,
/// with a GET (the upstream's credential included) through the upstream's probe client (<see cref="ProbeClients"/>, not
/// the traffic client, so probes never wait for a <c>max_conns</c> slot) and the configured timeout. A 2xx or 3xx
/// answer is a pass. Thresholds of consecutive results flip a target between healthy and unhealthy
/// (<see cref="TargetState.ProbeCompleted"/>). Also ends the passive cool-down of ejected targets of those upstreams,
/// after which probes decide when they rejoin. Runs beside the request path, never on it, and sleeps between probes:
/// until the next probe is due or cool-down ends, or until the config changes, traffic ejects a target or a probe that
/// ran past its interval ends.
/// </summary>
internal sealed class HealthProber(SnapshotManager snapshots, TargetRegistry targets, UpstreamClientPool pool, TimeProvider timeProvider)
    : BackgroundService
{
    /// <summary>How soon to look again while there is no snapshot yet.</summary>
    private static readonly TimeSpan NoSnapshotYet = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// A probe this close to due is started now rather than after another sleep: the timer that ends a sleep counts
    /// milliseconds and may fire a hair before the timestamp says the interval is over.
    /// </summary>
    private static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(20);

    private readonly ProbeClients _clients = new(pool, timeProvider);
    private readonly object _runLock = new();
    private readonly ChangeSignal _overdue = new();

    /// <summary>
    /// Targets a pass found due while their last probe still ran: that probe's end wakes the loop (<see cref="_overdue"/>).
    /// Marked by the pass rather than judged by the probe against the interval it started under, which a reload may
    /// since have shortened, and without the pass's slack.
    /// </summary>
    private readonly ConcurrentDictionary<TargetState, byte> _awaitingEnd = new(ReferenceEqualityComparer.Instance);
    private volatile bool _idle;
    private long _passes;

    public override void Dispose()
    {
        base.Dispose();
        lock (_runLock)
        {
            _clients.Dispose();
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (true)
            {
                // Taken before the pass reads the snapshot and the states, so a change made during the pass is not missed.
                var replaced = snapshots.NextReplacement;
                var ejected = targets.NextEjection;
                var overdue = _overdue.Next;
                if (RunDueProbes(stoppingToken) is { } wait)
                {
                    // Until the next probe is due or a cool-down ends, unless the config changes, traffic ejects a
                    // target (a cool-down this pass did not know of) or a probe that ran past its interval ends.
                    using var sleep = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                    await Task.WhenAny(Task.Delay(wait, timeProvider, sleep.Token), replaced, ejected, overdue);
                    await sleep.CancelAsync();
                    stoppingToken.ThrowIfCancellationRequested();
                }
                else
                {
                    // No upstream checks its targets: nothing to look at until the config changes.
                    _idle = true;
                    await replaced.WaitAsync(stoppingToken);
                    _idle = false;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // stopping
        }
    }

    /// <summary>Whether the loop is waiting for a new snapshot because the current one has no active health checks.</summary>
    internal bool Idle => _idle;

    /// <summary>How many passes over the snapshot the loop has made (each starts the probes that are due).</summary>
    internal long Passes => Interlocked.Read(ref _passes);

    /// <summary>
    /// Starts the probes that are due (each runs on its own; one probe per target at a time) and ends the cool-downs that
    /// are over. Returns how long the loop may sleep before the next probe is due or the next cool-down ends, or null when
    /// no live upstream has active checks (nothing to do until the config changes).
    /// </summary>
    internal TimeSpan? RunDueProbes(CancellationToken stoppingToken)
    {
        lock (_runLock)
        {
            Interlocked.Increment(ref _passes);
            if (stoppingToken.IsCancellationRequested)
            {
                return null;
            }

            if (snapshots.Current is not { } snapshot)
            {
                return NoSnapshotYet;
            }

            var started = timeProvider.GetTimestamp();
            var wait = RunDueProbes(snapshot, started, stoppingToken);
            _clients.RetireUnused();
            if (wait is { } w && w != Timeout.InfiniteTimeSpan)
            {
                // The waits are counted from the pass's start: a pass over thousands of targets must not lengthen each interval.
                var left = w - timeProvider.GetElapsedTime(started);
                wait = left > TimeSpan.FromMilliseconds(1) ? left : TimeSpan.FromMilliseconds(1);
            }

            return wait;
        }
    }

    private TimeSpan? RunDueProbes(ConfigSnapshot snapshot, long now, CancellationToken stoppingToken)
    {
        var checking = false;
        var wait = Timeout.InfiniteTimeSpan; // every probe still running: its end wakes the loop
        var frequency = (double)timeProvider.TimestampFrequency;
        var slack = (long)(Slack.TotalSeconds * frequency);
        var seen = new HashSet<TargetState>(ReferenceEqualityComparer.Instance);
        foreach (var upstream in snapshot.RouteUpstreams.Append(snapshot.DefaultUpstream))
        {
            if (upstream is null || !upstream.Health.ActiveChecks || !upstream.Definition.Enabled)
            {
                continue;
            }

            var client = _clients.Get(upstream); // every pass: marks the client as still in use
            var interval = (long)(upstream.Health.Interval.TotalSeconds * frequency);
            checking = true;
            foreach (var target in upstream.Targets)
            {
                var state = target.State;
                if (!seen.Add(state))
                {
                    continue;
                }

                // A cool-down this close to over is ended now, as a probe this close to due is started: the timer that
                // ends the sleep may fire a hair early, and a sleep of less than a millisecond does not sleep at all.
                state.EndCooldown(now + slack, upstream.Health.Cooldown);
                var cooldown = state.CooldownLeft(now, upstream.Health.Cooldown); // zero unless still ejected; then more than the slack
                if (cooldown > TimeSpan.Zero)
                {
                    wait = Sooner(wait, cooldown);
                }

                var due = state.LastProbeAt is { } last ? last + interval - now : 0;
                if (due <= slack)
                {
                    if (!state.TryStartProbe())
                    {
                        // Still running past its interval: its end wakes the loop. Marked before the claim is tried
                        // again, so a probe ending meanwhile either sees the mark or leaves the claim to take here.
                        _awaitingEnd[state] = 0;
                        if (!state.TryStartProbe())
                        {
                            continue;
                        }

                        _awaitingEnd.TryRemove(state, out _);
                    }

                    state.LastProbeAt = now;
                    due = interval;
                    _ = ProbeAsync(upstream, client, target, stoppingToken);
                }

                wait = Sooner(wait, TimeSpan.FromSeconds(due / frequency));
            }
        }

        return checking ? wait : null;
    }

    private static TimeSpan Sooner(TimeSpan wait, TimeSpan other) => wait == Timeout.InfiniteTimeSpan || other < wait ? other : wait;

    private async Task ProbeAsync(UpstreamBinding upstream, HttpMessageInvoker client, TargetBinding target, CancellationToken stoppingToken)
    {
        var policy = upstream.Health;
        var success = false;
        var reason = "";
        try
        {
            using var timeout = new CancellationTokenSource(policy.Timeout, timeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stoppingToken);
            try
            {
                // Built in here: a URI that cannot be made (a stored row past today's limits) fails the probe with its reason.
                using var probe = new HttpRequestMessage(HttpMethod.Get, target.Origin + target.BasePath + policy.Settings.Path)
                {
                    // The version requests use: a probe over HTTP/1.1 would pass on a target traffic cannot reach over HTTP/2.
                    Version = upstream.RequestConfig.Version!,
                    VersionPolicy = upstream.RequestConfig.VersionPolicy!.Value,
                };
                probe.Headers.TryAddWithoutValidation("User-Agent", "apigate-health-check");
                if (upstream.AuthHeaderName is { } authName)
                {
                    probe.Headers.TryAddWithoutValidation(authName, upstream.AuthHeaderValue);
                }

                using var response = await client.SendAsync(probe, linked.Token);
                var status = (int)response.StatusCode;
                success = status is >= 200 and < 400;
                reason = "status " + status.ToString(CultureInfo.InvariantCulture);
            }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
            {
                reason = $"no answer within {policy.Settings.TimeoutMs}ms";
            }
            catch (HttpRequestException ex)
            {
                // A failed TLS handshake says why (an untrusted certificate, a name it does not carry, a target speaking
                // plain HTTP), not only that it failed.
                reason = ex.HttpRequestError switch
                {
                    HttpRequestError.Unknown => FailureText.Of(ex),
                    HttpRequestError.SecureConnectionError => $"{ex.HttpRequestError}: {FailureText.Of(ex)}",
                    _ => ex.HttpRequestError.ToString(),
                };
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                reason = ex.GetType().Name + ": " + FailureText.Of(ex); // e.g. a client retired by a reload mid-probe; the next probe uses the new one
            }
        }
        catch (OperationCanceledException)
        {
            return; // stopping: leave the state as it is
        }
        finally
        {
            if (!stoppingToken.IsCancellationRequested)
            {
                target.State.ProbeCompleted(success, policy, reason);
                Interlocked.MemoryBarrier(); // the claim released above before the mark is read (the pass marks, then claims)
                if (_awaitingEnd.TryRemove(target.State, out _))
                {
                    _overdue.Raise(); // the next probe was due while this one ran: the loop skipped it and sleeps
                }
            }
        }
    }
}
