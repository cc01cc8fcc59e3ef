using ApiGate.Core.Upstreams;

namespace ApiGate.Core.Management;

/// <summary>
/// A typed change to an upstream, as the edge (CLI options, admin API body) parsed it: null = not given (keep on
/// update, default on create). <see cref="UpstreamService"/> checks the domain rules only; nothing here is text that
/// still needs parsing. <see cref="UpstreamInput.ToChanges"/> builds it from the text form.
/// </summary>
public sealed record UpstreamChanges
{
    public string? Name { get; init; }
    public string? Description { get; init; }

    /// <summary>The single target (replaces the target list); its text is kept as written, less a trailing '/'.</summary>
    public Uri? Url { get; init; }

    /// <summary>Given null = the gateway default.</summary>
    public Optional<TimeSpan?> Timeout { get; init; }

    public int? MaxIdleConns { get; init; }
    public int? IdleConnTimeoutMs { get; init; }
    public int? MaxConns { get; init; }
    public UpstreamHttpVersion? HttpVersion { get; init; }
    public UpstreamAuthType? AuthType { get; init; }
    public string? AuthHeader { get; init; }
    public string? AuthValue { get; init; }
    public bool? Enabled { get; init; }

    /// <summary>Replaces the whole target list; the first target becomes <c>base_url</c>.</summary>
    public IReadOnlyList<UpstreamTarget>? Targets { get; init; }

    public LoadBalancingPolicy? LbPolicy { get; init; }

    /// <summary>For <see cref="LoadBalancingPolicy.Hash"/>; <see cref="HashSourceKind.None"/> clears it.</summary>
    public HashSource? HashOn { get; init; }

    public HealthCheckChanges? HealthCheck { get; init; }
}

/// <summary>Typed health-check changes; null = not given.</summary>
public sealed record HealthCheckChanges
{
    /// <summary>Path probed on each target; empty turns active checks off.</summary>
    public string? Path { get; init; }
    public TimeSpan? Interval { get; init; }
    public TimeSpan? Timeout { get; init; }
    public int? HealthyThreshold { get; init; }
    public int? UnhealthyThreshold { get; init; }

    /// <summary>Consecutive failures that eject a target; 0 = off; given null = the default.</summary>
    public Optional<int?> PassiveFailures { get; init; }
    public TimeSpan? PassiveCooldown { get; init; }
}
