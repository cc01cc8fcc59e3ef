using ApiGate.Core.Identity;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// What a portal action tells the customer: whether it went through, the sentence the page shows, and on a login
/// the user. Messages never reveal whether an email address has an account.
/// </summary>
internal sealed record PortalResult(bool Ok, string Message, UserDefinition? User = null)
{
    public static PortalResult Success(string message, UserDefinition? user = null) => new(true, message, user);

    public static PortalResult Refused(string message) => new(false, message);
}
