using System.Globalization;
using System.Net;
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
/// after which probes decide when they rejoin. Runs beside the request path, never on it.
/// </summary>
internal sealed class HealthProber(SnapshotManager snapshots, UpstreamClientPool pool, TimeProvider timeProvider) : BackgroundService
{
    /// <summary>
    /// How often due probes are looked for while some upstream has active checks; intervals are whole seconds or more,
    /// so this is precise enough. Without any, the loop sleeps until the config changes.
    /// </summary>
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(200);
    private readonly ProbeClients _clients = new(pool, timeProvider);
    private readonly object _runLock = new();
    private volatile bool _idle;

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
                // Taken before the pass reads the snapshot, so a snapshot published during the pass is not missed.
                var replaced = snapshots.NextReplacement;
                if (RunDueProbes(stoppingToken))
                {
                    await Task.Delay(Tick, timeProvider, stoppingToken);
                }
                else
                {
                    // No upstream checks its targets: nothing to look at until the config changes (an idle gateway
                    // would otherwise wake a thread-pool thread five times a second for nothing).
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

    /// <summary>
    /// Starts the probes that are due (each runs on its own; one probe per target at a time). Returns whether any live
    /// upstream has active checks, i.e. whether a later pass over the same snapshot can have anything to do.
    /// </summary>
    internal bool RunDueProbes(CancellationToken stoppingToken)
    {
        lock (_runLock)
        {
            if (stoppingToken.IsCancellationRequested || snapshots.Current is not { } snapshot)
            {
                return !stoppingToken.IsCancellationRequested; // no snapshot yet: look again on the tick
            }

            var checking = RunDueProbes(snapshot, stoppingToken);
            _clients.RetireUnused();
            return checking;
        }
    }

    private bool RunDueProbes(ConfigSnapshot snapshot, CancellationToken stoppingToken)
    {
        var checking = false;
        var now = timeProvider.GetTimestamp();
        var seen = new HashSet<TargetState>(ReferenceEqualityComparer.Instance);
        foreach (var upstream in snapshot.RouteUpstreams.Append(snapshot.DefaultUpstream))
        {
            if (upstream is null || !upstream.Health.ActiveChecks || !upstream.Definition.Enabled)
            {
                continue;
            }

            checking = true;
            var client = _clients.Get(upstream); // every pass: marks the client as still in use
            var interval = (long)(upstream.Health.Interval.TotalSeconds * timeProvider.TimestampFrequency);
            foreach (var target in upstream.Targets)
            {
                var state = target.State;
                if (!seen.Add(state))
                {
                    continue;
                }

                state.EndCooldown(now, upstream.Health.Cooldown);
                if ((state.LastProbeAt is not { } last || now - last >= interval) && state.TryStartProbe())
                {
                    state.LastProbeAt = now;
                    _ = ProbeAsync(upstream, client, target, stoppingToken);
                }
            }
        }

        return checking;
    }

    private async Task ProbeAsync(UpstreamBinding upstream, HttpMessageInvoker client, TargetBinding target, CancellationToken stoppingToken)
    {
        var policy = upstream.Health;
        var success = false;
        var reason = "";
        try
        {
            using var timeout = new CancellationTokenSource(policy.Timeout, timeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, stoppingToken);
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

            try
            {
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
                reason = ex.HttpRequestError == HttpRequestError.Unknown ? ex.Message : ex.HttpRequestError.ToString();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                reason = ex.GetType().Name + ": " + ex.Message; // e.g. a client retired by a reload mid-probe; the next probe uses the new one
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
            }
        }
    }
}
