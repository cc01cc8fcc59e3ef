namespace ApiGate.Gateway.Portal;

/// <summary>What a customer may change plans to when no billing provider is configured (<c>APIGATE_PORTAL_PLAN_CHANGE</c>).</summary>
internal enum PortalPlanChange
{
    /// <summary>Visible, enabled plans priced 0, with no overage price.</summary>
    Free,

    /// <summary>No plan changes from the portal.</summary>
    None,
}

/// <summary>The portal's settings as the portal uses them, parsed once from <see cref="Configuration.GatewayOptions"/>.</summary>
internal sealed record PortalOptions
{
    /// <summary>Verification links stay valid this long.</summary>
    public static readonly TimeSpan VerifyLifetime = TimeSpan.FromHours(24);

    /// <summary>Password reset links stay valid this long.</summary>
    public static readonly TimeSpan ResetLifetime = TimeSpan.FromHours(1);

    /// <summary>
    /// How long the reset form (and the login page's "Send a new confirmation link") takes to answer, whatever the
    /// address: a registered one costs a token written and a message queued inside this time, an unknown one nothing,
    /// so the moment of the answer says nothing either.
    /// </summary>
    public static readonly TimeSpan ResetAnswerTime = TimeSpan.FromMilliseconds(500);

    /// <summary>Where the portal is served on the public listener (reserved while it is on).</summary>
    public const string BasePath = "/portal";

    public bool Enabled { get; init; }
    public string AppName { get; init; } = "APIGate";

    /// <summary>The public address of the gateway for links in emails, without a trailing slash; empty: the request's.</summary>
    public string BaseUrl { get; init; } = "";

    /// <summary>
    /// Where the customer's own browser is sent back to (checkout and billing-portal return URLs): the base URL, else
    /// the request's address. Not for links in emails, which go to someone else (<c>PortalAccountService</c>).
    /// </summary>
    public string ReturnBase(string origin) => BaseUrl.Length > 0 ? BaseUrl : origin.TrimEnd('/');

    public bool RequireVerification { get; init; } = true;
    public PortalPlanChange PlanChange { get; init; } = PortalPlanChange.Free;

    /// <summary>Null when no SMTP server is configured.</summary>
    public SmtpEndpoint? Smtp { get; init; }

    /// <summary>The sender of portal emails (<c>APIGATE_SMTP_FROM</c>).</summary>
    public string Sender { get; init; } = "";

    /// <summary>How long the SMTP server may take to answer each step (<c>APIGATE_SMTP_TIMEOUT</c>).</summary>
    public TimeSpan SmtpTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>True when sign-up can work: email can be sent, or verification is not required.</summary>
    public bool SignUpAvailable => Smtp is not null || !RequireVerification;

    public static PortalOptions From(Configuration.GatewayOptions o)
    {
        SmtpEndpoint? smtp = null;
        if (o.SmtpUrl.Length > 0)
        {
            SmtpEndpoint.TryParse(o.SmtpUrl, out smtp, out _);
        }

        return new PortalOptions
        {
            Enabled = o.PortalEnabled,
            AppName = o.PortalAppName,
            BaseUrl = o.PortalBaseUrl.TrimEnd('/'),
            RequireVerification = o.PortalRequireVerification,
            PlanChange = o.PortalPlanChange == "none" ? PortalPlanChange.None : PortalPlanChange.Free,
            Smtp = smtp,
            Sender = o.SmtpFrom,
            SmtpTimeout = o.SmtpTimeout,
        };
    }
}
