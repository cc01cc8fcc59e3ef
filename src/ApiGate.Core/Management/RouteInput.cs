namespace ApiGate.Core.Management;

/// <summary>Fields for creating or updating a route; null means "not given" (keep on update, default on create).</summary>
public sealed record RouteInput
{
    public string? Name { get; init; }
    public string? Description { get; init; }
    public string? HostPattern { get; init; }
    public string? HostMatchType { get; init; }
    public string? Path { get; init; }
    public string? MatchType { get; init; }

    /// <summary>Comma-separated methods; empty = all.</summary>
    public string? Methods { get; init; }

    /// <summary><c>name=value</c> header conditions; an empty list clears them.</summary>
    public IReadOnlyList<string>? Headers { get; init; }

    /// <summary>Upstream id or slug; empty = the default upstream.</summary>
    public string? Upstream { get; init; }

    public string? PathRewrite { get; init; }
    public string? MethodOverride { get; init; }
    public string? RequestTransform { get; init; }
    public string? ResponseTransform { get; init; }
    public string? Protocol { get; init; }
    public string? MeteringMode { get; init; }
    public string? MeteringExpr { get; init; }
    public bool? AuthRequired { get; init; }
    public int? Priority { get; init; }
    public bool? Enabled { get; init; }
}
