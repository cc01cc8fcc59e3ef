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

        if (o.PortalBaseUrl.Length > 0 && PublicBaseUrl.Problem(o.PortalBaseUrl, "the portal", PortalOptions.BasePath) is { } baseUrlProblem)
        {
            yield return ("portal.base_url", baseUrlProblem);
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
    /// In a method of its own (not inlined) so that validating the settings of a gateway without mail does not load the
    /// mail library: the JIT loads an assembly when it compiles a method that names one of its types.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool IsMailboxAddress(string value) => MimeKit.MailboxAddress.TryParse(value, out _);
}
