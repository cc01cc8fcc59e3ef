using System.Runtime.CompilerServices;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Portal;

/// <summary>The checks on the portal and SMTP settings that <see cref="GatewayOptionsValidator"/> runs at start.</summary>
internal static class PortalSettings
{
    /// <summary>Each refused portal or SMTP setting with the reason (never the SMTP URL's text: it may hold a password).</summary>
    public static IEnumerable<(string Key, string Problem)> Problems(GatewayOptions o)
    {
        if (o.PortalPlanChange is not ("free" or "none"))
        {
            yield return ("portal.plan_change", $"'{o.PortalPlanChange}' is not free or none");
        }

        if (o.PortalBaseUrl.Length > 0 && BaseUrlProblem(o.PortalBaseUrl) is { } baseUrlProblem)
        {
            // Masked as config show masks it: a mistyped address may carry user:password@.
            yield return ("portal.base_url", $"'{Core.Text.UrlUserInfo.Mask(o.PortalBaseUrl)}' {baseUrlProblem}");
        }

        if (o.PortalAppName.Length is 0 or > 80)
        {
            yield return ("portal.app_name", "must be 1 to 80 characters");
        }
        else if (Core.Management.TextFields.Check("portal.app_name", o.PortalAppName) is { } control)
        {
            // The name is every portal page's title and every portal email's subject and sender name.
            yield return ("portal.app_name", control.Message);
        }

        if (o.SmtpUrl.Length > 0)
        {
            if (!SmtpEndpoint.TryParse(o.SmtpUrl, out _, out var problem))
            {
                yield return ("smtp.url", problem);
            }

            if (!IsMailboxAddress(o.SmtpFrom))
            {
                yield return ("smtp.from", o.SmtpFrom.Length == 0
                    ? "is required when smtp.url is set (the sender of portal emails, e.g. no-reply@example.com)"
                    : $"'{o.SmtpFrom}' is not an email address");
            }
        }
    }

    /// <summary>
    /// Why <paramref name="url"/> cannot be the portal's base URL, or null. Links in emails are this address followed by
    /// <c>/portal/…</c>, and the portal itself knows no path prefix (its pages, redirects and session cookie all use
    /// <c>/portal</c>), so only a scheme, host and port are accepted: a path would make links that do not reach the
    /// portal, a query or fragment would swallow the path appended after it, and user info would be mailed out.
    /// </summary>
    private static string? BaseUrlProblem(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            return "is not an http:// or https:// address";
        }

        return uri.UserInfo.Length > 0 || Core.Text.UrlUserInfo.Remove(url).Length != url.Length
            ? "must not carry a user or password (user:password@)"
            : uri.AbsolutePath is not ("" or "/") ? "must not have a path: the portal is always served at /portal of the gateway, so give only the scheme, host and port"
            : uri.Query.Length > 0 ? "must not have a query"
            : uri.Fragment.Length > 0 || url.Contains('#', StringComparison.Ordinal) ? "must not have a fragment"
            : null;
    }

    /// <summary>
    /// In a method of its own (not inlined) so that validating the settings of a gateway without mail does not load the
    /// mail library: the JIT loads an assembly when it compiles a method that names one of its types.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool IsMailboxAddress(string value) => MimeKit.MailboxAddress.TryParse(value, out _);
}
