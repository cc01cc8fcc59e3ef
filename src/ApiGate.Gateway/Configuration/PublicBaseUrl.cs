namespace ApiGate.Gateway.Configuration;

/// <summary>
/// What a web area's public address may be (<c>portal.base_url</c>, <c>admin.ui_base_url</c>): the address as people
/// reach it through a proxy, of which the gateway uses only the origin — as the start of links and as the
/// <c>Origin</c> its form posts may name.
/// </summary>
internal static class PublicBaseUrl
{
    /// <summary>
    /// Why <paramref name="url"/> cannot be the public address of the pages served at <paramref name="servedAt"/>
    /// (<paramref name="area"/> names them: "the portal"), or null; the reason quotes the value with any user info
    /// masked, as <c>config show</c> shows it. Only a scheme, host and port are accepted: the pages know no path prefix
    /// (their links, redirects and session cookie all use <paramref name="servedAt"/>), so a path would make links that
    /// do not reach them, a query or fragment would swallow the path appended after it, and user info would be
    /// handed out in links.
    /// </summary>
    public static string? Problem(string url, string area, string servedAt)
    {
        var problem = !Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
            ? "is not an http:// or https:// address"
            : uri.UserInfo.Length > 0 || Core.Text.UrlUserInfo.Remove(url).Length != url.Length
            ? "must not carry a user or password (user:password@)"
            : uri.AbsolutePath is not ("" or "/") ? $"must not have a path: {area} is always served at {servedAt} of the gateway, so give only the scheme, host and port"
            : uri.Query.Length > 0 ? "must not have a query"
            : uri.Fragment.Length > 0 || url.Contains('#', StringComparison.Ordinal) ? "must not have a fragment"
            : null;
        return problem is null ? null : $"'{Core.Text.UrlUserInfo.Mask(url)}' {problem}";
    }
}
