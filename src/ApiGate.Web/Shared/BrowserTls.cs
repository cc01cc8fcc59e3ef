using ApiGate.Gateway.Proxies;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Web.Shared;

/// <summary>
/// Whether the browser reached the gateway over TLS. The console's and the portal's pages run with the scheme the
/// browser used (<see cref="Apply"/>), so behind a load balancer that ends TLS their cookies are <c>Secure</c> and their
/// redirects stay on https.
/// </summary>
internal static class BrowserTls
{
    /// <summary>Makes the request's scheme https when the browser used TLS (<see cref="Seen"/>); the first step of each web application.</summary>
    public static void Apply(HttpContext context)
    {
        if (!context.Request.IsHttps && Seen(context))
        {
            context.Request.Scheme = "https";
        }
    }

    /// <summary>
    /// True when the connection itself is TLS, or when the request came through a trusted proxy
    /// (<c>APIGATE_TRUSTED_PROXIES</c>) whose <c>X-Forwarded-Proto</c> says the browser used https (a load balancer that
    /// ends TLS). A client's own <c>X-Forwarded-Proto</c> counts for nothing.
    /// </summary>
    public static bool Seen(HttpContext context)
    {
        if (context.Request.IsHttps)
        {
            return true;
        }

        if (context.Features.Get<ForwardedClientFeature>() is null)
        {
            return false;
        }

        // The first entry is the scheme the outermost proxy saw, i.e. the browser's.
        var proto = context.Request.Headers["X-Forwarded-Proto"].ToString();
        var comma = proto.IndexOf(',');
        return (comma < 0 ? proto : proto[..comma]).Trim().Equals("https", StringComparison.OrdinalIgnoreCase);
    }
}
