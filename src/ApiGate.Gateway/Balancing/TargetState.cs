namespace ApiGate.Gateway.Balancing;

/// <summary>
/// The runtime state of one target (upstream id + URL). Lives in <see cref="TargetRegistry"/> across config snapshots,
/// so a reload keeps health, counters and requests in flight. Counters are updated with <see cref="Interlocked"/>;
/// state changes take a short lock (they are rare) and are reported to the registry, which logs and publishes them.
/// </summary>
internal sealed class TargetState
{
    private readonly TargetRegistry _owner;
    private readonly object _transitionLock = new();
    private int _health; // TargetHealth
    private long _ejectedAt; // TimeProvider timestamp, or CooldownOver
    private int _consecutiveFailures;
    private int _inFlight;
    private int _tunnels;
    private long _requestsTotal;
    private long _failuresTotal;
    private int _probeStreak; // successes while unhealthy, failures while healthy (prober only)
    private int _probing;
    private TargetHealthPolicy? _policy; // the current snapshot's; null until the first reload that uses the target

    public TargetState(TargetRegistry owner, string upstreamId, string url, DateTimeOffset now)
    {
        _owner = owner;
        UpstreamId = upstreamId;
        Url = url;
        Label = TargetLabel.For(url);
        Since = now;
    }

    public string UpstreamId { get; }

    public string Url { get; }

    /// <summary>The URL without credentials: the <c>target</c> label of metrics, logs and spans.</summary>
    public string Label { get; }

    /// <summary>The weight in the current snapshot (for status output only).</summary>
    public int Weight { get; set; } = 1;

    public TargetHealth Health => (TargetHealth)Volatile.Read(ref _health);

    public DateTimeOffset Since { get; private set; }

    public string Reason { get; private set; } = "";

    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>
    /// Of <see cref="InFlight"/>, the exchanges the target switched to another protocol (<c>101</c>: a WebSocket over
    /// HTTP/1.1). Their connections have left the upstream client's pool, so they take none of its <c>max_conns</c>.
    /// </summary>
    public int Tunnels => Volatile.Read(ref _tunnels);

    /// <summary>An exchange on this target switched protocols (<see cref="Tunnels"/>); <see cref="TunnelClosed"/> when it ends.</summary>
    public void TunnelOpened() => Interlocked.Increment(ref _tunnels);

    /// <summary>A switched exchange ended.</summary>
    public void TunnelClosed() => Interlocked.Decrement(ref _tunnels);

    /// <summary>Requests (attempts, a retry included) sent to this target since it was first configured.</summary>
    public long RequestsTotal => Interlocked.Read(ref _requestsTotal);

    /// <summary>Of those, the ones that failed (transport failure or 5xx; see <see cref="TargetOutcome"/>).</summary>
    public long FailuresTotal => Interlocked.Read(ref _failuresTotal);

    /// <summary>
    /// When the last probe of this target started (prober only); null before the first. The next one is due an interval
    /// later, by the interval in force then, so a shortened interval applies at once rather than after the old one.
    /// </summary>
    public long? LastProbeAt { get; set; }

    /// <summary>Set when the target's row has been published to the store.</summary>
    public bool Published { get; set; }

    /// <summary>
    /// Set when a reload removed the target: requests still in flight on it may change its state, but its row is gone
    /// and must not come back (a target added again under the same URL has a new state and a row of its own).
    /// </summary>
    public bool Retired
    {
        get => Volatile.Read(ref _retired);
        set => Volatile.Write(ref _retired, value);
    }

    private bool _retired;

    /// <summary>True for a healthy target (the hot path's check: one volatile read).</summary>
    public bool IsHealthy => Volatile.Read(ref _health) == (int)TargetHealth.Healthy;

    /// <summary>A consistent copy of the state (health, since and reason are read together).</summary>
    public TargetStatus Status()
    {
        TargetHealth health;
        DateTimeOffset since;
        string reason;
        lock (_transitionLock)
        {
            (health, since, reason) = (Health, Since, Reason);
        }

        return new TargetStatus(UpstreamId, Url, Weight, health, since, reason, Volatile.Read(ref _consecutiveFailures), InFlight,
            RequestsTotal, FailuresTotal);
    }

    /// <summary>A request starts on this target.</summary>
    public void Begin()
    {
        Interlocked.Increment(ref _inFlight);
        Interlocked.Increment(ref _requestsTotal);
    }

    /// <summary>
    /// A request on this target ended with <paramref name="outcome"/>; passive health checking happens here. Only the
    /// trial request itself (<paramref name="trial"/>) ends a trial; requests that started before it do not.
    /// </summary>
    public void End(TargetOutcome outcome, TargetHealthPolicy policy, string reason, bool trial = false)
    {
        Interlocked.Decrement(ref _inFlight);
        switch (outcome)
        {
            case TargetOutcome.Success:
                if (Volatile.Read(ref _consecutiveFailures) != 0)
                {
                    Interlocked.Exchange(ref _consecutiveFailures, 0);
                }

                if (trial)
                {
                    Transition(TargetHealth.Trial, TargetHealth.Healthy, "trial request succeeded");
                }

                break;
            case TargetOutcome.Failure:
                Interlocked.Increment(ref _failuresTotal);
                var failures = Interlocked.Increment(ref _consecutiveFailures);
                if (trial)
                {
                    Eject(TargetHealth.Trial, "trial request failed: " + reason);
                }
                else if (Health == TargetHealth.Healthy && policy.PassiveFailures > 0 && failures >= policy.PassiveFailures)
                {
                    Eject(TargetHealth.Healthy, $"{failures} consecutive failed requests, last: {reason}");
                }

                break;
            default:
                if (trial)
                {
                    AbandonTrial();
                }

                break;
        }
    }

    /// <summary>
    /// Decides the trial as soon as its outcome is known (the response headers arrived, or the attempt failed), not
    /// when the response has been streamed to the end: the target is back in service, or ejected again, at once. The
    /// request's <see cref="End"/> then passes <c>trial: false</c>.
    /// </summary>
    public void SettleTrial(TargetOutcome outcome, TargetHealthPolicy policy, string reason)
    {
        switch (outcome)
        {
            case TargetOutcome.Success:
                Transition(TargetHealth.Trial, TargetHealth.Healthy, "trial request succeeded");
                break;
            case TargetOutcome.Failure:
                Eject(TargetHealth.Trial, "trial request failed: " + reason);
                break;
            default:
                AbandonTrial();
                break;
        }
    }

    /// <summary>The trial proved nothing (client gone): back to ejected with the cool-down over, so the next request tries again.</summary>
    private void AbandonTrial()
    {
        lock (_transitionLock)
        {
            if (Health == TargetHealth.Trial)
            {
                Volatile.Write(ref _ejectedAt, CooldownOver);
                Apply(TargetHealth.Trial, TargetHealth.Ejected, "trial request abandoned by the client");
            }
        }
    }

    /// <summary>
    /// For an ejected target whose cool-down is over, or an unhealthy one, of an upstream without active checks: claims
    /// the single trial request. True for exactly one caller.
    /// </summary>
    public bool TryBeginTrial(long now, TimeSpan cooldown)
    {
        var health = Health;
        if (health == TargetHealth.Unhealthy)
        {
            // Only active checks bring an unhealthy target back; this upstream has none (the caller checks), so it is
            // treated like an ejected target whose cool-down is over rather than left out of service for good.
            return Transition(TargetHealth.Unhealthy, TargetHealth.Trial, "active health checks are off; trying one request");
        }

        if (health != TargetHealth.Ejected || !CooledDown(now, cooldown))
        {
            return false;
        }

        return Transition(TargetHealth.Ejected, TargetHealth.Trial, "cool-down over; trying one request");
    }

    /// <summary>Marks an ejection whose cool-down is over (a trial the client abandoned).</summary>
    private const long CooldownOver = long.MinValue;

    /// <summary>
    /// Whether the cool-down of the ejection is over, by the cool-down in force now: one shortened by a reload applies to
    /// targets already ejected.
    /// </summary>
    private bool CooledDown(long now, TimeSpan cooldown)
    {
        var at = Volatile.Read(ref _ejectedAt);
        return at == CooldownOver || now - at >= (long)(cooldown.TotalSeconds * _owner.TimestampFrequency);
    }

    /// <summary>What is left of an ejected target's cool-down, by the cool-down in force now; zero when it is over or the target is not ejected.</summary>
    public TimeSpan CooldownLeft(long now, TimeSpan cooldown)
    {
        var at = Volatile.Read(ref _ejectedAt);
        if (Health != TargetHealth.Ejected || at == CooldownOver)
        {
            return TimeSpan.Zero;
        }

        var left = cooldown.TotalSeconds - ((double)(now - at) / _owner.TimestampFrequency);
        return left > 0 ? TimeSpan.FromSeconds(left) : TimeSpan.Zero;
    }

    /// <summary>With active checks: an ejected target whose cool-down ended waits for probes (prober only).</summary>
    public void EndCooldown(long now, TimeSpan cooldown)
    {
        if (Health == TargetHealth.Ejected && CooledDown(now, cooldown))
        {
            _probeStreak = 0;
            Transition(TargetHealth.Ejected, TargetHealth.Unhealthy, "cool-down over; waiting for health checks to pass");
        }
    }

    /// <summary>
    /// The policy of the snapshot now in use (set at every reload). Probe results are applied only while it has active
    /// checks: a probe started under an older policy that finishes after checks were turned off is ignored.
    /// </summary>
    public void Rebind(TargetHealthPolicy policy)
    {
        lock (_transitionLock)
        {
            _policy = policy;
            if (!policy.ActiveChecks && Health == TargetHealth.Unhealthy)
            {
                // Active checks were turned off: nothing would ever bring an unhealthy target back.
                Apply(TargetHealth.Unhealthy, TargetHealth.Healthy, "active health checks turned off");
            }
        }
    }

    /// <summary>Claims the right to run a probe now; false while one is still running.</summary>
    public bool TryStartProbe() => Interlocked.CompareExchange(ref _probing, 1, 0) == 0;

    /// <summary>Applies one probe result (prober only) and releases the probe claim.</summary>
    public void ProbeCompleted(bool success, TargetHealthPolicy policy, string reason)
    {
        try
        {
            var settings = policy.Settings;
            switch (Health)
            {
                case TargetHealth.Healthy:
                    _probeStreak = success ? 0 : _probeStreak + 1;
                    if (_probeStreak >= settings.UnhealthyThreshold)
                    {
                        _probeStreak = 0;
                        ProbeTransition(TargetHealth.Healthy, TargetHealth.Unhealthy, $"{settings.UnhealthyThreshold} failed health checks, last: {reason}");
                    }

                    break;
                case TargetHealth.Unhealthy:
                    _probeStreak = success ? _probeStreak + 1 : 0;
                    if (_probeStreak >= settings.HealthyThreshold)
                    {
                        _probeStreak = 0;
                        Interlocked.Exchange(ref _consecutiveFailures, 0);
                        ProbeTransition(TargetHealth.Unhealthy, TargetHealth.Healthy, $"{settings.HealthyThreshold} health checks passed");
                    }

                    break;
                default:
                    // Ejected by real traffic: probes count only once the cool-down is over.
                    _probeStreak = 0;
                    break;
            }
        }
        finally
        {
            Volatile.Write(ref _probing, 0);
        }
    }

    /// <summary>A transition decided by probes: refused when the current policy no longer has active checks.</summary>
    private void ProbeTransition(TargetHealth from, TargetHealth to, string reason)
    {
        lock (_transitionLock)
        {
            if (Health == from && _policy?.ActiveChecks != false)
            {
                Apply(from, to, reason);
            }
        }
    }

    private void Eject(TargetHealth from, string reason)
    {
        lock (_transitionLock)
        {
            if (Health != from)
            {
                return;
            }

            Volatile.Write(ref _ejectedAt, _owner.Timestamp());
            _probeStreak = 0;
            Apply(from, TargetHealth.Ejected, reason);
        }
    }

    private bool Transition(TargetHealth from, TargetHealth to, string reason)
    {
        lock (_transitionLock)
        {
            if (Health != from)
            {
                return false;
            }

            Apply(from, to, reason);
            return true;
        }
    }

    private void Apply(TargetHealth from, TargetHealth to, string reason)
    {
        Since = _owner.Now();
        Reason = reason;
        Volatile.Write(ref _health, (int)to);
        if (to == TargetHealth.Healthy)
        {
            Interlocked.Exchange(ref _consecutiveFailures, 0);
        }

        _owner.OnTransition(this, from, to);
    }
}
