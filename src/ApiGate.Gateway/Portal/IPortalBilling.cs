namespace ApiGate.Gateway.Portal;

/// <summary>
/// The seam a billing provider plugs into (docs/portal.md, "Plans and billing"): the portal's plan page asks it whether
/// billing is configured and, when it is, sends the customer's choice of plan to <see cref="CheckoutPath"/> (a POST
/// with the form field <c>plan</c>, and the antiforgery token) instead of changing the plan itself. Registered as a
/// singleton; the default, <see cref="NoPortalBilling"/>, says no provider is configured.
/// </summary>
public interface IPortalBilling
{
    /// <summary>True when plan changes go through the billing provider.</summary>
    bool IsConfigured { get; }

    /// <summary>Where the plan page posts a plan change when <see cref="IsConfigured"/> (an absolute path on the gateway).</summary>
    string CheckoutPath { get; }
}

/// <summary>No billing provider: plan changes follow <c>APIGATE_PORTAL_PLAN_CHANGE</c>.</summary>
internal sealed class NoPortalBilling : IPortalBilling
{
    public bool IsConfigured => false;

    public string CheckoutPath => "";
}
