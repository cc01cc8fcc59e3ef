using ApiGate.Core.Identity;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// What a portal action tells the customer: whether it went through, the sentence the page shows, and on a login
/// the user and the password hash the login was checked against (a session is bound to that one, never to a hash read
/// later, which a password change or reset made meanwhile would have replaced). <see cref="Throttled"/> marks a refusal
/// by a limit (the page answers 429), <see cref="Unconfirmed"/> a login refused until the address is confirmed (the
/// login page offers a new link). <see cref="Field"/> names the form field a refusal is about
/// (<see cref="PortalAccountService.EmailField"/>, <see cref="PortalAccountService.PasswordField"/>,
/// <see cref="PortalAccountService.CurrentPasswordField"/>), as <see cref="Core.Management.ManagementError.Field"/>
/// does, or is empty when it is about none (the portal cannot send email or make links, a limit, a missing default
/// plan): the page marks that field, never one it guesses from the wording. Messages never reveal whether an email address has an account.
/// </summary>
internal sealed record PortalResult(bool Ok, string Message, UserDefinition? User = null, string? PasswordHash = null, bool Throttled = false, string Field = "", bool Unconfirmed = false)
{
    public static PortalResult Success(string message, UserDefinition? user = null, string? passwordHash = null) => new(true, message, user, passwordHash);

    /// <summary>Refused; <paramref name="field"/> names the form field at fault, if the refusal is about one.</summary>
    public static PortalResult Refused(string message, string field = "") => new(false, message, Field: field);

    /// <summary>A login with the right password refused until the account's address is confirmed.</summary>
    public static PortalResult NotConfirmed(string message) => new(false, message, Unconfirmed: true);

    /// <summary>Refused by a limit: "Too many <paramref name="what"/>. Try again in N minute(s)." (at least one).</summary>
    public static PortalResult TooMany(string what, TimeSpan wait) =>
        new(false, $"Too many {what}. Try again in {Math.Max(1, (int)Math.Ceiling(wait.TotalMinutes))} minute(s).", Throttled: true);
}
