namespace ApiGate.Core.Routing;

/// <summary>How a route's host pattern is compared with the request host.</summary>
public enum HostMatchType
{
    /// <summary>Case-insensitive equality.</summary>
    Exact,
    /// <summary><c>*.example.com</c>: exactly one extra label.</summary>
    Wildcard,
    /// <summary>A .NET regex anchored at both ends, case-insensitive.</summary>
    Regex,
}

/// <summary>How a route's path pattern is compared with the request path.</summary>
public enum PathMatchType
{
    /// <summary>The whole path equals the pattern.</summary>
    Exact,
    /// <summary>The path starts with the pattern (a trailing <c>*</c> is optional).</summary>
    Prefix,
    /// <summary>A .NET regex anchored at both ends.</summary>
    Regex,
}

/// <summary>How the exchange with the upstream is carried.</summary>
public enum RouteProtocol
{
    /// <summary>Request/response with a total timeout.</summary>
    Http,
    /// <summary>Response streamed chunk by chunk; idle timeout.</summary>
    HttpStream,
    /// <summary>Server-sent events, each flushed at once; idle timeout.</summary>
    Sse,
    /// <summary>HTTP/1.1 Upgrade tunnelled both ways; idle timeout.</summary>
    Websocket,
}

/// <summary>Which credential a route with <c>auth_required</c> accepts.</summary>
public enum AuthScheme
{
    /// <summary>An API key (Authorization: Bearer, X-API-Key, ?api_key).</summary>
    Key,
    /// <summary>A JWT from the configured issuer (Authorization: Bearer).</summary>
    Jwt,
    /// <summary>Either: a bearer value shaped as a JWT is checked as one, anything else as an API key.</summary>
    KeyOrJwt,
}

/// <summary>How a request is turned into usage units.</summary>
public enum MeteringMode
{
    Request,
    Bytes,
    ResponseField,
    Custom,
}

/// <summary>
/// What to match, where to send it and how to reshape it. Immutable configuration record.
/// </summary>
public sealed record RouteDefinition
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public required string Slug { get; init; }
    public string Description { get; init; } = "";
    public string HostPattern { get; init; } = "";
    public HostMatchType HostMatchType { get; init; } = HostMatchType.Exact;
    public required string PathPattern { get; init; }
    public PathMatchType MatchType { get; init; } = PathMatchType.Prefix;
    public IReadOnlyList<string> Methods { get; init; } = [];
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>Target upstream id; null sends the request to the default upstream.</summary>
    public string? UpstreamId { get; init; }

    public string PathRewrite { get; init; } = "";
    public string MethodOverride { get; init; } = "";
    public string RequestTransform { get; init; } = "";
    public string ResponseTransform { get; init; } = "";
    public RouteProtocol Protocol { get; init; } = RouteProtocol.Http;
    public MeteringMode MeteringMode { get; init; } = MeteringMode.Request;
    public string MeteringExpr { get; init; } = "";
    public bool AuthRequired { get; init; } = true;

    /// <summary>The credential an <see cref="AuthRequired"/> route accepts; default an API key.</summary>
    public AuthScheme AuthScheme { get; init; } = AuthScheme.Key;

    /// <summary>Whether the route accepts JWTs (<c>jwt</c> or <c>key_or_jwt</c>), which need the gateway's <c>jwt.issuer</c>.</summary>
    public bool TakesJwt() => AuthRequired && AuthScheme != AuthScheme.Key;

    /// <summary>Origins allowed to call the route from a browser (canonical, see <see cref="Cors.CorsOrigins"/>); empty = CORS off.</summary>
    public IReadOnlyList<string> CorsOrigins { get; init; } = [];

    /// <summary>Methods a preflight may ask for; empty = the route's methods, or the common ones.</summary>
    public IReadOnlyList<string> CorsMethods { get; init; } = [];

    /// <summary>Request headers a preflight may ask for (<c>*</c> = any); empty = Authorization, Content-Type, X-API-Key.</summary>
    public IReadOnlyList<string> CorsHeaders { get; init; } = [];

    /// <summary>Response headers scripts may read; empty = the gateway's own (request id, limits).</summary>
    public IReadOnlyList<string> CorsExposeHeaders { get; init; } = [];

    /// <summary>Whether browsers may send cookies / HTTP auth and read the answer (never with origin <c>*</c>).</summary>
    public bool CorsCredentials { get; init; }

    /// <summary>Seconds a browser may cache a preflight answer; 0 = no <c>Access-Control-Max-Age</c> header.</summary>
    public int CorsMaxAge { get; init; }
    public int Priority { get; init; }
    public bool Enabled { get; init; } = true;
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}
