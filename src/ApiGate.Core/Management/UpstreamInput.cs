namespace ApiGate.Core.Management;

/// <summary>Fields for creating or updating an upstream; null means "not given" (keep on update, default on create).</summary>
public sealed record UpstreamInput
{
    public string? Name { get; init; }
    public string? Description { get; init; }
    public string? Url { get; init; }

    /// <summary>Milliseconds or a duration such as <c>30s</c>; <c>0</c> or <c>default</c> = the gateway default.</summary>
    public string? Timeout { get; init; }

    public int? MaxIdleConns { get; init; }
    public int? IdleConnTimeoutMs { get; init; }
    public int? MaxConns { get; init; }
    public string? AuthType { get; init; }
    public string? AuthHeader { get; init; }
    public string? AuthValue { get; init; }
    public bool? Enabled { get; init; }
}
