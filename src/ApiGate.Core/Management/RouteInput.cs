using ApiGate.Core.Routing;
using ApiGate.Core.Text;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>
/// The text form of a route change, as the admin API's JSON body and the CLI's options carry it; null means "not
/// given". <see cref="ToChanges"/> parses it once, at the edge, into <see cref="RouteChanges"/>.
/// </summary>
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

    /// <summary><c>key</c> (default), <c>jwt</c> or <c>key_or_jwt</c>.</summary>
    public string? AuthScheme { get; init; }

    /// <summary>Comma-separated allowed origins (<c>https://app.example.com</c>, <c>*.example.com</c>, <c>*</c>); empty = CORS off.</summary>
    public string? CorsOrigins { get; init; }

    /// <summary>Comma-separated methods a preflight may ask for; empty = the default.</summary>
    public string? CorsMethods { get; init; }

    /// <summary>Comma-separated request headers a preflight may ask for (<c>*</c> = any); empty = the default.</summary>
    public string? CorsHeaders { get; init; }

    /// <summary>Comma-separated response headers scripts may read; empty = the default.</summary>
    public string? CorsExposeHeaders { get; init; }

    public bool? CorsCredentials { get; init; }

    /// <summary>Seconds a preflight answer may be cached; 0 = header not sent.</summary>
    public int? CorsMaxAge { get; init; }
    public int? Priority { get; init; }
    public bool? Enabled { get; init; }

    /// <summary>Parses every given field into its type; a field that cannot be read is an error naming it.</summary>
    public ManagementResult<RouteChanges> ToChanges()
    {
        PathMatchType? matchType = null;
        if (MatchType is not null)
        {
            if (!WireNames.TryParse<PathMatchType>(MatchType, out var parsed))
            {
                return Invalid("match_type", $"'{MatchType}' is not one of {WireNames.List<PathMatchType>()}");
            }

            matchType = parsed;
        }

        HostMatchType? hostMatchType = null;
        if (!string.IsNullOrEmpty(HostMatchType))
        {
            if (!WireNames.TryParse<HostMatchType>(HostMatchType, out var parsed))
            {
                return Invalid("host_match_type", $"'{HostMatchType}' is not one of {WireNames.List<HostMatchType>()}");
            }

            hostMatchType = parsed;
        }

        Dictionary<string, string>? headers = null;
        if (Headers is not null)
        {
            // Names as sent: x-tier and X-Tier both reach the service, which refuses a name given twice in any case unless
            // the route as stored already holds both conditions (RouteService.Validate); the same spelling twice never is.
            headers = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var pair in Headers)
            {
                var eq = pair.IndexOf('=');
                if (eq <= 0)
                {
                    return Invalid("headers", $"'{pair}' is not name=value");
                }

                var name = pair[..eq].Trim();
                if (!headers.TryAdd(name, pair[(eq + 1)..].Trim()))
                {
                    return Invalid("headers", RouteService.GivenTwice(name));
                }
            }
        }

        RouteProtocol? protocol = null;
        if (Protocol is not null)
        {
            if (!WireNames.TryParse<RouteProtocol>(Protocol, out var parsed))
            {
                return Invalid("protocol", $"'{Protocol}' is not one of {WireNames.List<RouteProtocol>()}");
            }

            protocol = parsed;
        }

        MeteringMode? meteringMode = null;
        if (MeteringMode is not null)
        {
            if (!WireNames.TryParse<MeteringMode>(MeteringMode, out var parsed))
            {
                return Invalid("metering_mode", $"'{MeteringMode}' is not one of {WireNames.List<MeteringMode>()}");
            }

            meteringMode = parsed;
        }

        AuthScheme? authScheme = null;
        if (AuthScheme is not null)
        {
            if (!WireNames.TryParse<AuthScheme>(AuthScheme.Replace('-', '_'), out var parsed))
            {
                return Invalid("auth_scheme", $"'{AuthScheme}' is not one of {WireNames.List<AuthScheme>()}");
            }

            authScheme = parsed;
        }

        // Counted as sent, before duplicates are dropped, as the CORS lists are: 100,000 GETs are refused, not stored as one.
        var methods = List(Methods);
        var corsMethods = List(CorsMethods);
        if ((TextFields.CheckCount("methods", methods?.Count ?? 0) ?? TextFields.CheckCount("cors_methods", corsMethods?.Count ?? 0)) is { } tooMany)
        {
            return tooMany;
        }

        return new RouteChanges
        {
            Name = Name,
            Description = Description,
            HostPattern = HostPattern,
            HostMatchType = hostMatchType,
            Path = Path,
            MatchType = matchType,
            Methods = UpperCaseOnce(methods),
            Headers = headers,
            Upstream = Upstream is null ? default : new Optional<string?>(Upstream.Length == 0 ? null : Upstream),
            PathRewrite = PathRewrite,
            MethodOverride = MethodOverride,
            RequestTransform = RequestTransform,
            ResponseTransform = ResponseTransform,
            Protocol = protocol,
            MeteringMode = meteringMode,
            MeteringExpr = MeteringExpr,
            AuthRequired = AuthRequired,
            AuthScheme = authScheme,
            CorsOrigins = List(CorsOrigins),
            CorsMethods = UpperCaseOnce(corsMethods),
            CorsHeaders = List(CorsHeaders),
            CorsExposeHeaders = List(CorsExposeHeaders),
            CorsCredentials = CorsCredentials,
            CorsMaxAge = CorsMaxAge,
            Priority = Priority,
            Enabled = Enabled,
        };
    }

    private static List<string>? List(string? commaSeparated) =>
        commaSeparated is null ? null : [.. commaSeparated.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];

    private static List<string>? UpperCaseOnce(List<string>? methods) =>
        methods is null ? null : [.. methods.Select(m => m.ToUpperInvariant()).Distinct(StringComparer.Ordinal)];
}
