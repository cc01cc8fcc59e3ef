using System.Security.Claims;
using ApiGate.Core.Identity;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Web.Shared;

/// <summary>
/// A second check on every form post of the console and the portal, next to the antiforgery token: the browser's own
/// word on where the form came from. <c>Sec-Fetch-Site</c> must be <c>same-origin</c> (or <c>none</c>); without it,
/// an <c>Origin</c> must name this host or the area's configured public address (behind a proxy that rewrites the
/// <c>Host</c>). A post from a sibling subdomain or from another port of the same host
/// (<c>same-site</c>: the public port against the admin listener) is refused even when it carries a valid token pair
/// (which a cookie planted from such a place could supply). Requests with neither header (non-browser clients)
/// rest on the token alone.
/// </summary>
internal static class FormOrigin
{
    /// <summary>
    /// Binds this request's antiforgery tokens to its signed-in session (call before <see cref="IsGenuinePostAsync"/> and
    /// before the page renders its forms): a token is then valid only in the session it was rendered for, so a cookie and
    /// token pair an attacker takes from a session of their own — and plants in a victim's browser — is refused in the
    /// victim's. The session is named by its stored id (a hash of the cookie); the token carries a hash of that.
    /// </summary>
    public static void BindToSession(HttpContext context, WebSession session) =>
        context.User = new ClaimsPrincipal(new ClaimsIdentity(
            [new Claim(ClaimTypes.NameIdentifier, $"{session.Kind}:{session.Id}")], authenticationType: "apigate-session"));

    /// <summary>
    /// Whether a form post may change anything: from this site's own page by the browser's word, and carrying a valid
    /// antiforgery token pair. The one check both the console's and the portal's gates make.
    /// </summary>
    public static async Task<bool> IsGenuinePostAsync(HttpContext context, IAntiforgery antiforgery, string alsoAllowed = "") =>
        IsSameOrigin(context.Request, alsoAllowed) && await antiforgery.IsRequestValidAsync(context);

    /// <summary>
    /// Sends the browser back to the address it posted from: a page answers a form with a redirect made of the request's
    /// scheme and <c>Host</c>, which behind a proxy that rewrites the <c>Host</c> (or ends TLS without being a trusted
    /// proxy) names the proxy's side of it — an address the browser may not reach, or plain http. When the post's
    /// <c>Origin</c> is not that scheme and host, the redirect is sent as its path and query, which the browser resolves
    /// against the page it is on. Call for a post that passed <see cref="IsGenuinePostAsync"/>.
    /// </summary>
    public static void RedirectToPostingOrigin(HttpContext context)
    {
        var request = context.Request;
        var origin = request.Headers.Origin.ToString();
        var own = request.Scheme + "://" + Gateway.Pipeline.RequestHost.Value(request);
        if (origin.Length == 0 || string.Equals(origin, own, StringComparison.OrdinalIgnoreCase) || !Uri.TryCreate(own + "/", UriKind.Absolute, out var site))
        {
            return;
        }

        context.Response.OnStarting(() =>
        {
            var headers = context.Response.Headers;
            var location = headers.Location.ToString();
            // Only a redirect to this site (never one elsewhere, as to a payment page), and never to a path the browser
            // would read as another host (//host, /\host).
            if (Uri.TryCreate(location, UriKind.Absolute, out var to) && to.Scheme is "http" or "https"
                && Uri.Compare(to, site, UriComponents.SchemeAndServer, UriFormat.UriEscaped, StringComparison.OrdinalIgnoreCase) == 0
                && location.IndexOf('/', location.IndexOf("://", StringComparison.Ordinal) + 3) is > 0 and var path
                && (path + 1 == location.Length || location[path + 1] is not ('/' or '\\')))
            {
                headers.Location = location[path..];
            }

            return Task.CompletedTask;
        });
    }

    /// <summary>True when the post may be from this site's own page; <paramref name="alsoAllowed"/> is a configured public origin (or empty).</summary>
    public static bool IsSameOrigin(HttpRequest request, string alsoAllowed = "")
    {
        var fetchSite = request.Headers["Sec-Fetch-Site"].ToString();
        if (fetchSite.Length > 0)
        {
            return fetchSite is "same-origin" or "none";
        }

        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0)
        {
            return true;
        }

        if (!Uri.TryCreate(origin, UriKind.Absolute, out var from))
        {
            return false; // "null" (a sandboxed or privacy-redirected document) or garbage
        }

        // The authority the browser was talking to; the scheme may differ behind a proxy that terminates TLS. Compared
        // with the Host as sent: browsers send both in ASCII (punycode), while HttpRequest.Host turns punycode labels
        // into Unicode, so a genuine post to an internationalised host name was refused.
        return string.Equals(from.Authority, Gateway.Pipeline.RequestHost.Value(request), StringComparison.OrdinalIgnoreCase)
            || (alsoAllowed.Length > 0 && Uri.TryCreate(alsoAllowed, UriKind.Absolute, out var allowed)
                && string.Equals(from.GetLeftPart(UriPartial.Authority), allowed.GetLeftPart(UriPartial.Authority), StringComparison.OrdinalIgnoreCase));
    }
}
