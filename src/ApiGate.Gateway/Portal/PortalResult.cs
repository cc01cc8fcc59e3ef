using ApiGate.Core.Identity;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// What a portal action tells the customer: whether it went through, the sentence the page shows, and on a login
/// the user and the password hash the login was checked against (a session is bound to that one, never to a hash read
/// later, which a password change or reset made meanwhile would have replaced). Messages never reveal whether an email
/// address has an account.
/// </summary>
internal sealed record PortalResult(bool Ok, string Message, UserDefinition? User = null, string? PasswordHash = null)
{
    public static PortalResult Success(string message, UserDefinition? user = null, string? passwordHash = null) => new(true, message, user, passwordHash);

    public static PortalResult Refused(string message) => new(false, message);
}
