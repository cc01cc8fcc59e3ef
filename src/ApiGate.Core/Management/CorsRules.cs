using ApiGate.Core.Cors;
using ApiGate.Core.Routing;
using ApiGate.Core.Text;

namespace ApiGate.Core.Management;

/// <summary>The checks a route's CORS fields must pass before they are written; each problem names its field.</summary>
public static class CorsRules
{
    /// <summary>Longest <c>cors_max_age</c> accepted (a day; browsers cap it lower anyway).</summary>
    public const int MaxAgeLimit = 86_400;

    /// <summary>
    /// The first problem with the CORS fields of <paramref name="route"/> as (field, message), or null. A list may hold
    /// as many entries as the <paramref name="stored"/> route's (the same route before the change, if any) did.
    /// </summary>
    public static (string Field, string Message)? Validate(RouteDefinition route, RouteDefinition? stored = null)
    {
        foreach (var (field, list, before) in new[]
                 {
                     ("cors_origins", route.CorsOrigins, stored?.CorsOrigins.Count ?? 0),
                     ("cors_headers", route.CorsHeaders, stored?.CorsHeaders.Count ?? 0),
                     ("cors_expose_headers", route.CorsExposeHeaders, stored?.CorsExposeHeaders.Count ?? 0),
                 })
        {
            if (TextFields.CheckCount(field, list.Count, before) is { } countProblem)
            {
                return (field, countProblem.Message);
            }
        }

        var anyOrigin = false;
        foreach (var origin in route.CorsOrigins)
        {
            if (CorsOrigins.Canonicalize(origin, out var problem) is null)
            {
                return ("cors_origins", problem!);
            }

            anyOrigin |= origin == CorsOrigins.Any;
        }

        if (anyOrigin && route.CorsCredentials)
        {
            return ("cors_credentials", "credentials cannot be allowed for any origin ('*'): list the origins that may send them");
        }

        var configured = route.CorsOrigins.Count > 0;
        if (!configured && (route.CorsMethods.Count > 0 || route.CorsHeaders.Count > 0 || route.CorsExposeHeaders.Count > 0 || route.CorsCredentials || route.CorsMaxAge != 0))
        {
            return ("cors_origins", "CORS settings need at least one allowed origin (cors_origins)");
        }

        foreach (var method in route.CorsMethods)
        {
            if (RouteMethods.Validate(method) is { } problem)
            {
                return ("cors_methods", problem);
            }
        }

        if (Headers(route.CorsHeaders, allowStar: true) is { } headerProblem)
        {
            return ("cors_headers", headerProblem);
        }

        if (Headers(route.CorsExposeHeaders, allowStar: false) is { } exposeProblem)
        {
            return ("cors_expose_headers", exposeProblem);
        }

        if (route.CorsMaxAge is < 0 or > MaxAgeLimit)
        {
            return ("cors_max_age", $"must be between 0 (header not sent) and {MaxAgeLimit} seconds");
        }

        return null;
    }

    private static string? Headers(IReadOnlyList<string> names, bool allowStar)
    {
        foreach (var name in names)
        {
            if (name == "*")
            {
                if (allowStar)
                {
                    continue;
                }

                return "'*' is not accepted here: name the headers";
            }

            if (!HttpTokens.IsToken(name))
            {
                return $"'{name}' is not a valid header name";
            }

            if (name.Length > TextFields.MaxNameLength)
            {
                // Every name is repeated in a response header of each preflight or CORS response.
                return $"a header name is longer than {TextFields.MaxNameLength} characters";
            }
        }

        return null;
    }
}
