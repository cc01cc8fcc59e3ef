namespace ApiGate.Core.Routing;

/// <summary>
/// The paths the gateway always answers itself, whatever the settings (docs/routing.md, "Reserved paths"):
/// <c>/health</c> and below, <c>/version</c>, <c>/metrics</c>, <c>/admin</c> and below. A route that could only match
/// them would never be reached, so it is refused when written. (The portal's and billing's paths are reserved only
/// while those features are on, which the store cannot know; routes there are allowed.)
/// </summary>
public static class ReservedPaths
{
    public const string Listed = "/health, /health/*, /version, /metrics, /admin, /admin/*";

    /// <summary>True when every path <paramref name="pattern"/> matches is one the gateway answers itself.</summary>
    public static bool Covers(string pattern, PathMatchType type)
    {
        if (type == PathMatchType.Regex || pattern.Contains('{'))
        {
            return false; // what a regex or a parameter can match is not known here
        }

        if (type == PathMatchType.Exact)
        {
            return pattern is "/health" or "/version" or "/metrics" or "/admin" || IsBelow(pattern);
        }

        // A prefix: only when the literal part already ends inside a reserved tree ('/health' also matches '/healthz').
        return IsBelow(pattern.TrimEnd('*'));
    }

    private static bool IsBelow(string path) =>
        path.StartsWith("/health/", StringComparison.Ordinal) || path.StartsWith("/admin/", StringComparison.Ordinal);
}
