using ApiGate.Core.Routing;

namespace ApiGate.Core.Management;

/// <summary>
/// A typed change to a route, as the edge (CLI options, admin API body) parsed it: null = not given (keep on update,
/// default on create). <see cref="RouteService"/> checks the domain rules only. <see cref="RouteInput.ToChanges"/>
/// builds it from the text form.
/// </summary>
public sealed record RouteChanges
{
    public string? Name { get; init; }
    public string? Description { get; init; }

    /// <summary>Host pattern; its type is inferred from it unless <see cref="HostMatchType"/> is given.</summary>
    public string? HostPattern { get; init; }
    public HostMatchType? HostMatchType { get; init; }
    public string? Path { get; init; }
    public PathMatchType? MatchType { get; init; }

    /// <summary>Upper-case methods, each once; empty = all.</summary>
    public IReadOnlyList<string>? Methods { get; init; }

    /// <summary>Header conditions (name → value), names as sent (compared by <see cref="RouteService"/>, which ignores their case); empty clears them.</summary>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>Upstream id or slug; given null = the default upstream.</summary>
    public Optional<string?> Upstream { get; init; }

    public string? PathRewrite { get; init; }
    public string? MethodOverride { get; init; }
    public string? RequestTransform { get; init; }
    public string? ResponseTransform { get; init; }
    public RouteProtocol? Protocol { get; init; }
    public MeteringMode? MeteringMode { get; init; }
    public string? MeteringExpr { get; init; }
    public bool? AuthRequired { get; init; }
    public AuthScheme? AuthScheme { get; init; }

    /// <summary>Allowed origins as written (canonicalized by the service); empty turns CORS off.</summary>
    public IReadOnlyList<string>? CorsOrigins { get; init; }

    /// <summary>Upper-case methods, each once; empty = the default.</summary>
    public IReadOnlyList<string>? CorsMethods { get; init; }

    public IReadOnlyList<string>? CorsHeaders { get; init; }
    public IReadOnlyList<string>? CorsExposeHeaders { get; init; }
    public bool? CorsCredentials { get; init; }
    public int? CorsMaxAge { get; init; }
    public int? Priority { get; init; }
    public bool? Enabled { get; init; }
}
