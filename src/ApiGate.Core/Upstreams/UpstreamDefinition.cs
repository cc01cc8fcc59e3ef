using System.Text.Json.Serialization;

namespace ApiGate.Core.Upstreams;

/// <summary>How the gateway authenticates itself to an upstream.</summary>
public enum UpstreamAuthType
{
    /// <summary>No credential is injected.</summary>
    None,
    /// <summary><c>Authorization: Bearer &lt;value&gt;</c>.</summary>
    Bearer,
    /// <summary><c>&lt;auth_header&gt;: &lt;value&gt;</c>.</summary>
    Header,
    /// <summary><c>Authorization: Basic base64(value)</c>.</summary>
    Basic,
}

/// <summary>
/// A backend service the gateway forwards to. Immutable; a change produces a new record and a new config snapshot.
/// </summary>
public sealed record UpstreamDefinition
{
    /// <summary>Default for <see cref="MaxIdleConns"/>.</summary>
    public const int DefaultMaxIdleConns = 100;

    /// <summary>Default for <see cref="IdleConnTimeoutMs"/>.</summary>
    public const int DefaultIdleConnTimeoutMs = 90_000;

    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Slug { get; init; }
    public string Description { get; init; } = "";
    /// <summary>The first target's URL: the one-target shorthand, kept for readers that know only one URL.</summary>
    public required string BaseUrl { get; init; }

    /// <summary>The backend instances requests are balanced over; empty means one target, <see cref="BaseUrl"/>, of weight 1.</summary>
    public IReadOnlyList<UpstreamTarget> Targets { get; init; } = [];

    /// <summary>How a request picks a target.</summary>
    public LoadBalancingPolicy LbPolicy { get; init; } = LoadBalancingPolicy.RoundRobin;

    /// <summary>What the <c>hash</c> policy hashes: <c>header:&lt;name&gt;</c>, <c>key</c> or <c>client_ip</c>; empty otherwise.</summary>
    public string HashOn { get; init; } = "";

    /// <summary>Active and passive health checking of the targets.</summary>
    public HealthCheckSettings HealthCheck { get; init; } = HealthCheckSettings.Default;

    /// <summary><see cref="Targets"/>, or the single <see cref="BaseUrl"/> target when none are listed.</summary>
    [JsonIgnore]
    public IReadOnlyList<UpstreamTarget> EffectiveTargets => Targets.Count > 0 ? Targets : [new UpstreamTarget(BaseUrl)];

    /// <summary>Request timeout in milliseconds; null means the gateway default (<c>APIGATE_UPSTREAM_TIMEOUT</c>).</summary>
    public int? TimeoutMs { get; init; }

    /// <summary>Idle connections kept per upstream (advisory in .NET's pool; see docs/forwarding.md, Upstream connection settings).</summary>
    public int MaxIdleConns { get; init; } = DefaultMaxIdleConns;

    /// <summary>How long an idle pooled connection is kept, in milliseconds.</summary>
    public int IdleConnTimeoutMs { get; init; } = DefaultIdleConnTimeoutMs;

    /// <summary>Cap on concurrent connections to this upstream; 0 = unlimited.</summary>
    public int MaxConns { get; init; }

    /// <summary>HTTP version spoken to the targets (traffic and health probes alike); <c>"1.1"</c> or <c>"2"</c> on the wire.</summary>
    [JsonConverter(typeof(UpstreamHttpVersionConverter))]
    public UpstreamHttpVersion HttpVersion { get; init; } = UpstreamHttpVersion.Http11;

    public UpstreamAuthType AuthType { get; init; } = UpstreamAuthType.None;
    public string AuthHeader { get; init; } = "";

    /// <summary>Write-only secret. Never serialized, printed or logged.</summary>
    [JsonIgnore]
    public string AuthValue { get; init; } = "";

    /// <summary>Whether a credential is stored (the only thing ever shown about it).</summary>
    public bool AuthConfigured => AuthValue.Length > 0;

    public bool Enabled { get; init; } = true;
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Secrets stay out of records printed by the runtime (exceptions, debuggers, logs).</summary>
    public override string ToString() => $"Upstream {{ Id = {Id}, Slug = {Slug}, BaseUrl = {BaseUrl} }}";
}
