using ApiGate.Core.Cors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace ApiGate.Gateway.Cors;

/// <summary>
/// The <c>Access-Control-*</c> and <c>Vary</c> headers the gateway writes for a route with a CORS policy — on its
/// own answers (errors included) and over whatever the upstream sent: on such a route the gateway's policy wins.
/// </summary>
internal static class CorsHeaders
{
    /// <summary>The request's <c>Origin</c>, or null when absent or sent more than once.</summary>
    public static string? OriginOf(HttpRequest request)
    {
        var values = request.Headers.Origin;
        return values.Count == 1 && !string.IsNullOrEmpty(values[0]) ? values[0] : null;
    }

    /// <summary>
    /// The method a CORS preflight asks about (<c>OPTIONS</c> with <c>Origin</c> and
    /// <c>Access-Control-Request-Method</c>), or null when the request is not a preflight. Either header sent more than
    /// once, or empty, still makes a preflight — one no policy allows: its method is then the values as sent, joined
    /// (<c>GET,PUT</c>, or empty), which names no route's method and no allowed one, and its origin none
    /// (<see cref="OriginOf"/>). Read as an ordinary <c>OPTIONS</c> request instead, it went to the upstream and
    /// came back with the route's <c>Access-Control-Allow-Origin</c>.
    /// </summary>
    public static string? PreflightMethod(HttpRequest request)
    {
        if (!HttpMethods.IsOptions(request.Method))
        {
            return null;
        }

        var requested = request.Headers.AccessControlRequestMethod;
        if (requested.Count == 0 || request.Headers.Origin.Count == 0)
        {
            return null;
        }

        return requested.Count == 1 ? requested[0] ?? "" : requested.ToString();
    }

    /// <summary>
    /// Writes the headers of an actual (non-preflight) response: <c>Vary: Origin</c> always, the allow headers only for
    /// an allowed origin. Upstream <c>Access-Control-*</c> values are replaced, an upstream <c>Vary</c> is kept and extended.
    /// </summary>
    public static void ApplyActual(IHeaderDictionary headers, CorsPolicy policy, string? origin)
    {
        headers.Remove(HeaderNames.AccessControlAllowMethods);
        headers.Remove(HeaderNames.AccessControlAllowHeaders);
        headers.Remove(HeaderNames.AccessControlMaxAge);
        AddVaryOrigin(headers);
        if (origin is not null && policy.AllowOriginFor(origin) is { } allowed)
        {
            headers.AccessControlAllowOrigin = allowed;
            headers.AccessControlExposeHeaders = policy.ExposeHeaders;
            if (policy.Credentials)
            {
                headers.AccessControlAllowCredentials = "true";
            }
            else
            {
                headers.Remove(HeaderNames.AccessControlAllowCredentials);
            }
        }
        else
        {
            headers.Remove(HeaderNames.AccessControlAllowOrigin);
            headers.Remove(HeaderNames.AccessControlAllowCredentials);
            headers.Remove(HeaderNames.AccessControlExposeHeaders);
        }
    }

    /// <summary>Writes the allow headers of an accepted preflight.</summary>
    public static void ApplyPreflight(IHeaderDictionary headers, CorsPolicy policy, string allowedOrigin, StringValues requestedHeaders)
    {
        headers.Vary = PreflightVary;
        headers.AccessControlAllowOrigin = allowedOrigin;
        headers.AccessControlAllowMethods = policy.AllowMethods;
        if (policy.AllowHeaders is { } allowHeaders)
        {
            headers.AccessControlAllowHeaders = allowHeaders;
        }
        else if (requestedHeaders.Count > 0)
        {
            headers.AccessControlAllowHeaders = requestedHeaders; // '*': what was asked for (also valid with credentials)
        }

        if (policy.Credentials)
        {
            headers.AccessControlAllowCredentials = "true";
        }

        if (policy.MaxAge is { } maxAge)
        {
            headers.AccessControlMaxAge = maxAge;
        }
    }

    /// <summary><c>Vary</c> of a preflight answer: it depends on all three request headers.</summary>
    public const string PreflightVary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";

    private static void AddVaryOrigin(IHeaderDictionary headers)
    {
        var vary = headers.Vary;
        if (vary.Count == 0)
        {
            headers.Vary = "Origin";
            return;
        }

        foreach (var value in vary)
        {
            if (value is not null && (value.Contains('*') || ContainsToken(value, "Origin")))
            {
                return;
            }
        }

        headers.Vary = StringValues.Concat(vary, "Origin");
    }

    private static bool ContainsToken(string list, string token)
    {
        var span = list.AsSpan();
        foreach (var range in span.Split(','))
        {
            if (span[range].Trim().Equals(token, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
