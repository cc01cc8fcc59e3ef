using System.Text.Json.Serialization;

namespace ApiGate.Core.Upstreams;

/// <summary>
/// Health checking of an upstream's targets. Active checks probe <see cref="Path"/> on every target (off when the path
/// is empty); passive checks watch real traffic and eject a target after <see cref="PassiveFailures"/> consecutive
/// transport failures or 5xx responses for <see cref="PassiveCooldownMs"/>.
/// </summary>
public sealed record HealthCheckSettings
{
    /// <summary>Default for <see cref="IntervalMs"/>: 10 s.</summary>
    public const int DefaultIntervalMs = 10_000;

    /// <summary>Default for <see cref="TimeoutMs"/>: 2 s.</summary>
    public const int DefaultTimeoutMs = 2_000;

    /// <summary>Default for <see cref="HealthyThreshold"/>.</summary>
    public const int DefaultHealthyThreshold = 2;

    /// <summary>Default for <see cref="UnhealthyThreshold"/>.</summary>
    public const int DefaultUnhealthyThreshold = 3;

    /// <summary>Passive failures that eject a target when the upstream has two or more targets and none were configured.</summary>
    public const int DefaultPassiveFailures = 5;

    /// <summary>Default for <see cref="PassiveCooldownMs"/>: 30 s.</summary>
    public const int DefaultPassiveCooldownMs = 30_000;

    /// <summary>Settings with every default (active checks off).</summary>
    public static readonly HealthCheckSettings Default = new();

    /// <summary>Path probed with GET on each target (after the target's own base path); empty = no active checks.</summary>
    public string Path { get; init; } = "";

    /// <summary>Time between probes of one target.</summary>
    public int IntervalMs { get; init; } = DefaultIntervalMs;

    /// <summary>A probe that has no response headers within this time failed.</summary>
    public int TimeoutMs { get; init; } = DefaultTimeoutMs;

    /// <summary>Consecutive successful probes that make an unhealthy target healthy.</summary>
    public int HealthyThreshold { get; init; } = DefaultHealthyThreshold;

    /// <summary>Consecutive failed probes that make a healthy target unhealthy.</summary>
    public int UnhealthyThreshold { get; init; } = DefaultUnhealthyThreshold;

    /// <summary>
    /// Consecutive failed requests (transport error or 5xx) that eject a target; 0 = passive checks off; null = the
    /// default: <see cref="DefaultPassiveFailures"/> with two or more targets, off with one (ejecting the only target
    /// would just turn the backend's own errors into 503s).
    /// </summary>
    public int? PassiveFailures { get; init; }

    /// <summary>How long an ejected target is left out before it is re-probed.</summary>
    public int PassiveCooldownMs { get; init; } = DefaultPassiveCooldownMs;

    /// <summary>Whether targets are probed.</summary>
    [JsonIgnore]
    public bool ActiveEnabled => Path.Length > 0;

    /// <summary>The passive failure threshold in effect for an upstream with <paramref name="targetCount"/> targets (0 = off).</summary>
    public int EffectivePassiveFailures(int targetCount) => PassiveFailures ?? (targetCount >= 2 ? DefaultPassiveFailures : 0);
}
