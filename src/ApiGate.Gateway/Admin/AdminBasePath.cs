namespace ApiGate.Gateway.Admin;

/// <summary>What <c>APIGATE_ADMIN_BASE_PATH</c> may be.</summary>
internal static class AdminBasePath
{
    /// <summary>Where the admin console is served (ApiGate.Web's <c>AdminConsoleModule</c>).</summary>
    public const string ConsolePath = "/ui";

    /// <summary>Null when <paramref name="path"/> can serve the admin API, else why not.</summary>
    public static string? Validate(string path)
    {
        if (path.Length < 2 || path[0] != '/' || path[^1] == '/')
        {
            return $"'{path}' must start with '/', name at least one segment and not end with '/' (e.g. /admin)";
        }

        foreach (var segment in path[1..].Split('/'))
        {
            if (segment.Length == 0 || !segment.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return $"'{path}' may only contain segments of letters, digits, '-', '_' and '.'";
            }
        }

        // ConsolePath: the admin console's pages, served where the admin API is; an admin API there would answer them all.
        foreach (var reserved in new[] { "/health", "/version", "/metrics", Portal.PortalOptions.BasePath, ConsolePath })
        {
            if (path.Equals(reserved, StringComparison.OrdinalIgnoreCase) || path.StartsWith(reserved + "/", StringComparison.OrdinalIgnoreCase))
            {
                return $"'{path}' overlaps the reserved path {reserved}";
            }
        }

        return null;
    }
}
