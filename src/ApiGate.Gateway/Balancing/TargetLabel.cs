namespace ApiGate.Gateway.Balancing;

/// <summary>
/// How a target URL appears in metrics labels, access-log lines and span attributes: as configured (origin and path),
/// with any <c>user:password@</c> removed. The store refuses credentials in URLs, but <c>APIGATE_UPSTREAM_URL</c> or an
/// older row may still carry them, and a label is published to every scraper.
/// </summary>
internal static class TargetLabel
{
    /// <summary><paramref name="url"/> without its userinfo; the same string when it has none.</summary>
    public static string For(string url) => Core.Text.UrlUserInfo.Remove(url);
}
