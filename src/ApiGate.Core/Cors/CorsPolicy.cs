using System.Collections.Frozen;
using System.Globalization;
using ApiGate.Core.Routing;

namespace ApiGate.Core.Cors;

/// <summary>
/// A route's CORS rules compiled once per config snapshot: which origins are allowed and the header values the
/// gateway answers with, as ready-made strings so a request only looks things up.
/// </summary>
public sealed class CorsPolicy
{
    /// <summary>Methods allowed when the route names none and lists no methods of its own.</summary>
    public static readonly IReadOnlyList<string> DefaultMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];

    /// <summary>Request headers allowed when the route names none: the credentials the gateway reads and JSON bodies.</summary>
    public static readonly IReadOnlyList<string> DefaultHeaders = ["Authorization", "Content-Type", "X-API-Key"];

    /// <summary>Response headers exposed to scripts when the route names none: the gateway's own.</summary>
    public static readonly IReadOnlyList<string> DefaultExposeHeaders =
    [
        "X-Request-ID", "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset",
        "X-Quota-Limit", "X-Quota-Remaining", "X-Quota-Used", "X-Quota-Reset", "Retry-After",
    ];

    private readonly FrozenSet<string> _exact;
    private readonly (string Scheme, string Suffix)[] _patterns;
    private readonly bool _anyOrigin;
    private readonly FrozenSet<string> _methods;
    private readonly FrozenSet<string>? _headers;

    private CorsPolicy(RouteDefinition route)
    {
        var exact = new List<string>();
        var patterns = new List<(string, string)>();
        foreach (var stored in route.CorsOrigins)
        {
            // Stored canonical; an origin stored before its form was (http://[0:0::1], https://bücher.example) is
            // brought to the form browsers send, and one that is not an origin at all is kept and matches nothing.
            var origin = CorsOrigins.Canonicalize(stored, out _, PublicSuffixes.Empty) ?? stored;
            if (origin == CorsOrigins.Any)
            {
                _anyOrigin = true;
            }
            else if (CorsOrigins.IsPattern(origin))
            {
                // https://*.example.com:8443 → scheme "https://", suffix ".example.com:8443"
                var star = origin.IndexOf('*', StringComparison.Ordinal);
                patterns.Add((origin[..star], origin[(star + 1)..]));
            }
            else
            {
                exact.Add(origin);
            }
        }

        _exact = exact.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
        _patterns = [.. patterns];
        Credentials = route.CorsCredentials;

        var methods = route.CorsMethods.Count > 0 ? route.CorsMethods : route.Methods.Count > 0 ? route.Methods : DefaultMethods;
        _methods = methods.ToFrozenSet(StringComparer.Ordinal);
        AllowMethods = string.Join(", ", methods);

        var headers = route.CorsHeaders.Count > 0 ? route.CorsHeaders : DefaultHeaders;
        if (headers.Contains("*"))
        {
            _headers = null;
            AllowHeaders = null;
        }
        else
        {
            _headers = headers.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
            AllowHeaders = string.Join(", ", headers);
        }

        ExposeHeaders = string.Join(", ", route.CorsExposeHeaders.Count > 0 ? route.CorsExposeHeaders : DefaultExposeHeaders);
        MaxAge = route.CorsMaxAge > 0 ? route.CorsMaxAge.ToString(CultureInfo.InvariantCulture) : null;
    }

    /// <summary>The compiled policy of <paramref name="route"/>, or null when the route has no CORS origins (CORS off).</summary>
    public static CorsPolicy? Compile(RouteDefinition route) => route.CorsOrigins.Count == 0 ? null : new CorsPolicy(route);

    /// <summary>Whether <c>Access-Control-Allow-Credentials: true</c> is sent.</summary>
    public bool Credentials { get; }

    /// <summary><c>Access-Control-Allow-Methods</c> of a preflight answer.</summary>
    public string AllowMethods { get; }

    /// <summary><c>Access-Control-Allow-Headers</c> of a preflight answer; null: the requested headers are echoed (<c>*</c>).</summary>
    public string? AllowHeaders { get; }

    /// <summary><c>Access-Control-Expose-Headers</c> of an actual response.</summary>
    public string ExposeHeaders { get; }

    /// <summary><c>Access-Control-Max-Age</c> of a preflight answer; null: not sent.</summary>
    public string? MaxAge { get; }

    /// <summary>
    /// The <c>Access-Control-Allow-Origin</c> value for a request from <paramref name="origin"/>, or null when that
    /// origin is not allowed. A matched origin is answered with itself (the request's own string, no copy); <c>*</c>
    /// is answered only when the policy allows any origin, which it never does together with credentials.
    /// </summary>
    public string? AllowOriginFor(string origin)
    {
        if (_exact.Contains(origin))
        {
            return origin;
        }

        foreach (var (scheme, suffix) in _patterns)
        {
            // At least one label before the suffix: "https://" + "a" + ".example.com".
            if (origin.Length > scheme.Length + suffix.Length
                && origin.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
                && origin.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                && IsSubdomainLabels(origin.AsSpan(scheme.Length, origin.Length - scheme.Length - suffix.Length)))
            {
                return origin;
            }
        }

        return _anyOrigin ? CorsOrigins.Any : null;
    }

    /// <summary>Whether a preflight may ask for <paramref name="method"/>.</summary>
    public bool AllowsMethod(string method) => _methods.Contains(method);

    /// <summary>
    /// Whether every header named in <paramref name="requested"/> (the comma-separated
    /// <c>Access-Control-Request-Headers</c>) is allowed; <paramref name="refused"/> is the first one that is not. A
    /// name that is not a header name (not an HTTP token: non-ASCII, spaces, quotes) is never allowed, also under
    /// <c>*</c>, whose answer repeats the names asked for and must stay a valid header value. Only HTTP's white space
    /// (spaces and tabs) is trimmed around a name: a no-break space is part of the name, and makes it no header name.
    /// </summary>
    public bool AllowsHeaders(ReadOnlySpan<char> requested, out string? refused)
    {
        refused = null;
        var lookup = _headers?.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var range in requested.Split(','))
        {
            var name = requested[range].Trim(HttpWhiteSpace);
            if (!name.IsEmpty && (!Text.HttpTokens.IsToken(name) || (lookup is { } listed && !listed.Contains(name))))
            {
                refused = name.ToString();
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The optional white space of HTTP lists (RFC 9110 §5.6.3); <c>Trim()</c> without it would also remove a no-break
    /// space or a line separator, which the answer under <c>*</c> would then repeat and the server cannot write.
    /// </summary>
    private const string HttpWhiteSpace = " \t";

    /// <summary>One or more DNS labels (letters, digits, '-', dots between labels) — what '*' may stand for.</summary>
    private static bool IsSubdomainLabels(ReadOnlySpan<char> labels)
    {
        if (labels.IsEmpty || labels[0] == '.' || labels[^1] == '.')
        {
            return false;
        }

        var previousDot = false;
        foreach (var c in labels)
        {
            if (c == '.')
            {
                if (previousDot)
                {
                    return false;
                }

                previousDot = true;
                continue;
            }

            previousDot = false;
            if (!char.IsAsciiLetterOrDigit(c) && c != '-')
            {
                return false;
            }
        }

        return true;
    }
}
