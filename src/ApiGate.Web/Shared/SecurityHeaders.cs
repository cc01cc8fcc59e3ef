using Microsoft.AspNetCore.Http;

namespace ApiGate.Web.Shared;

/// <summary>
/// Headers on every page: never cached (pages show credentials and live state), not framed, only our own scripts,
/// and over TLS, HSTS.
/// </summary>
public static class SecurityHeaders
{
    /// <summary>The content security policy: scripts and styles from the gateway only (inline styles: MudBlazor's theme).</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        + "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'";

    public static void Apply(HttpResponse response)
    {
        var headers = response.Headers;
        headers.CacheControl = "no-store, no-cache, must-revalidate, max-age=0";
        headers.Pragma = "no-cache";
        headers.Expires = "0";
        headers.XFrameOptions = "DENY";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        if (response.HttpContext.Request.IsHttps)
        {
            // Reached over TLS (directly, or through a trusted proxy that ended it: BrowserTls): the browser keeps to
            // https for this host from now on, so a later plain-http link cannot expose a session cookie. Without
            // includeSubDomains: other hosts of the domain are not the gateway's to decide.
            headers.StrictTransportSecurity = "max-age=31536000";
        }
    }
}
