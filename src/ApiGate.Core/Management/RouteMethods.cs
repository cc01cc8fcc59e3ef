using System.Collections.Frozen;
using ApiGate.Core.Text;

namespace ApiGate.Core.Management;

/// <summary>
/// The methods a route may list (<c>--methods</c>) or forward as (<c>--method-override</c>): the methods of RFC 9110
/// and PATCH (RFC 5789), QUERY, and WebDAV's. A typo such as <c>GETT</c> is refused when written instead of making a
/// route that never matches. TRACE, TRACK and CONNECT are refused too: the gateway does not proxy them.
/// </summary>
public static class RouteMethods
{
    /// <summary>The accepted methods, upper case.</summary>
    public static FrozenSet<string> Known { get; } = FrozenSet.Create(StringComparer.Ordinal,
        "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY",
        "PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "REPORT", "SEARCH", "MKCALENDAR");

    /// <summary>Null when <paramref name="method"/> (upper case) can be routed; else why not.</summary>
    public static string? Validate(string method)
    {
        if (Known.Contains(method))
        {
            return null;
        }

        if (!HttpTokens.IsToken(method))
        {
            return $"'{method}' is not an HTTP method";
        }

        return method is "TRACE" or "TRACK" or "CONNECT"
            ? $"'{method}' is not proxied by the gateway"
            : $"'{method}' is not a known HTTP method (one of {string.Join(", ", Known.Order(StringComparer.Ordinal))})";
    }
}
