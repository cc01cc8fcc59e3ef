namespace ApiGate.Web.Shared;

/// <summary>
/// Where a login may send the browser afterwards: only a path of the same app (<paramref name="root"/> or below it),
/// never the login page itself, and only a path that means what it says — no backslash, no empty segment
/// (<c>//host</c>), no <c>.</c> or <c>..</c> segment and no percent escape in the path part (<c>/ui/../../x</c> would
/// leave the app on the same host), no control character or line separator anywhere (a tab browsers drop, a line
/// break meant for the <c>Location</c> header), at most 500 characters. Anything else goes to <paramref name="root"/>.
/// </summary>
internal static class ReturnPaths
{
    public static string Safe(string? path, string root, string loginPath)
    {
        if (path is not { Length: > 0 and < 500 } p || p.StartsWith(loginPath, StringComparison.Ordinal))
        {
            return root;
        }

        var query = p.IndexOf('?');
        var pathPart = query < 0 ? p : p[..query];
        if (!(pathPart == root || pathPart.StartsWith(root + "/", StringComparison.Ordinal)) || p.Contains('\\') || HasControl(p))
        {
            return root;
        }

        foreach (var segment in pathPart.Split('/')[1..])
        {
            if (segment is "." or ".." || (segment.Length == 0 && pathPart.Length > root.Length + 1) || segment.Contains('%'))
            {
                return root;
            }
        }

        return p;
    }

    private static bool HasControl(string path)
    {
        foreach (var c in path)
        {
            if (char.IsControl(c) || c is '\u2028' or '\u2029')
            {
                return true;
            }
        }

        return false;
    }
}
