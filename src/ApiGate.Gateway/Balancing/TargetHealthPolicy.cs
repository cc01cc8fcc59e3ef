using ApiGate.Core.Upstreams;

namespace ApiGate.Gateway.Balancing;

/// <summary>An upstream's health-check settings in the form the runtime uses, computed once per snapshot.</summary>
internal sealed class TargetHealthPolicy
{
    public TargetHealthPolicy(HealthCheckSettings settings, int targetCount)
    {
        Settings = settings;
        ActiveChecks = settings.ActiveEnabled;
        PassiveFailures = settings.EffectivePassiveFailures(targetCount);
        Cooldown = TimeSpan.FromMilliseconds(settings.PassiveCooldownMs);
        Interval = TimeSpan.FromMilliseconds(settings.IntervalMs);
        Timeout = TimeSpan.FromMilliseconds(settings.TimeoutMs);
    }

    public HealthCheckSettings Settings { get; }

    /// <summary>Whether targets are probed (then an ejected target rejoins through probes, not a trial request).</summary>
    public bool ActiveChecks { get; }

    /// <summary>Consecutive failures that eject a target; 0 = passive checks off.</summary>
    public int PassiveFailures { get; }

    public TimeSpan Cooldown { get; }

    public TimeSpan Interval { get; }

    public TimeSpan Timeout { get; }
}
