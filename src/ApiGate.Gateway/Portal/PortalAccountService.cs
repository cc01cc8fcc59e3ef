using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Portal;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// Portal accounts (SPEC §14): sign-up (an ordinary user on the default plan, created with its account in one
/// transaction), email verification and password reset by one-time links, login with the per-account and per-address
/// limiter, password change. The answers to sign-up, login and reset are worded so they never reveal whether an
/// address has an account.
/// </summary>
internal sealed partial class PortalAccountService(
    IGatewayStore store, PortalOptions options, PortalMailQueue mail, PortalLinkRequestQueue linkRequests, LoginLimiter limiter, BillingService billing,
    TimeProvider timeProvider, ILogger<PortalAccountService> logger, ConflictBackOff? conflictBackOff = null)
{
    /// <summary>Longest email address accepted (RFC 5321's path limit).</summary>
    public const int MaxEmailLength = 254;

    public const string LoginFailed = "Email or password is incorrect.";

    /// <summary>What a request for a link by email answers when no SMTP server is configured.</summary>
    public const string CannotSendEmail = "This portal cannot send email. Please contact the operator.";

    /// <summary>
    /// What sign-up, reset and resend answer when no link may be made for the request: no base URL is set and the
    /// request's Host is not a loopback address (<see cref="LinkBase"/>).
    /// </summary>
    public const string CannotMakeLinks = "This portal cannot send email links yet: its public address is not configured. Please contact the operator.";

    public const string LinkUnusable = "This link has expired or was already used. Ask for a new one.";

    /// <summary>The <see cref="PortalResult.Field"/> of a refused email address.</summary>
    public const string EmailField = "email";

    /// <summary>The <see cref="PortalResult.Field"/> of a refused new password.</summary>
    public const string PasswordField = "password";

    /// <summary>The <see cref="PortalResult.Field"/> of a wrong current password (on a password change).</summary>
    public const string CurrentPasswordField = "current";

    private readonly UserService _users = new(store, timeProvider, conflictBackOff);

    /// <summary>1 once the missing base URL was logged (<see cref="LinkBase"/>): once says what to set; more is noise any client can cause.</summary>
    private int _noLinkBaseLogged;

    /// <summary>
    /// Creates the account, or (for an address that already has one) sends its owner a note instead: both answer with
    /// the same message. Without email, verification must be off, and the message then says so plainly.
    /// </summary>
    /// <param name="origin">The address of the request (<c>https://host</c>), used for links when no base URL is set.</param>
    public async Task<PortalResult> SignUpAsync(string? email, string? password, string origin, string clientAddress, CancellationToken ct)
    {
        if (!options.SignUpAvailable)
        {
            return PortalResult.Refused("Sign-up is not available: this portal cannot send email yet. Please contact the operator.");
        }

        // Refused before anything is stored: a pending account whose confirmation link cannot be mailed is a dead end.
        if (options.RequireVerification && LinkBase(origin) is null)
        {
            return PortalResult.Refused(CannotMakeLinks);
        }

        email = email?.Trim() ?? "";
        if (EmailProblem(email, newAddress: true) is { } emailProblem)
        {
            return PortalResult.Refused(emailProblem, EmailField);
        }

        if (PortalPasswords.Problem(password) is { } passwordProblem)
        {
            return PortalResult.Refused(passwordProblem, PasswordField);
        }

        // Counted before the password is hashed or anything is stored or mailed, and alike for new and registered addresses.
        if (await limiter.TakeSignUpAsync(clientAddress, ct) is { } wait)
        {
            return PortalResult.TooMany("sign-ups from your network", wait);
        }

        var sent = options.RequireVerification
            ? $"We sent a link to {email}. Follow it within 24 hours to confirm your address, then log in."
            : $"If {email} was not registered yet, its account is ready: log in with your password.";
        var built = await _users.BuildNewAsync(new UserChanges
        {
            Email = email,
            Status = options.RequireVerification ? UserStatus.Pending : UserStatus.Active,
        }, ct);
        if (built.Error is { Kind: ManagementErrorKind.Conflict, Field: "email" })
        {
            // Stored under another spelling of this mailbox before the spelling rules (bob@XN--BCHER-KVA.example for
            // bob@bücher.example): taken, and answered as any registered address is. Its hash costs what the other paths'
            // do, so the time taken tells nothing either.
            _ = PortalPasswords.Hash(password!);
            return await AnswerTakenAsync(email, origin, sent, ct);
        }

        if (built.Error is { } error)
        {
            return error.Kind == ManagementErrorKind.Validation && error.Field == "email"
                ? PortalResult.Refused(error.Message.TrimEnd('.') + ".", EmailField)
                : PortalResult.Refused("Sign-up is not available right now: the portal has no default plan. Please contact the operator.");
        }

        var now = timeProvider.GetUtcNow();
        var user = built.Value!;
        var account = new PortalAccount
        {
            UserId = user.Id,
            PasswordHash = PortalPasswords.Hash(password!),
            CreatedAt = now,
            UpdatedAt = now,
        };
        try
        {
            await store.CreatePortalUserAsync(user, account, ct);
        }
        catch (StoreConflictException)
        {
            return await AnswerTakenAsync(email, origin, sent, ct);
        }

        LogSignedUp(logger, user.Id);
        if (options.RequireVerification && LinkBase(origin) is { } verifyLinks)
        {
            await SendVerificationAsync(user, verifyLinks, ct);
        }

        return PortalResult.Success(sent);
    }

    /// <summary>
    /// The sign-up answer for an address that has an account already: tell its owner, tell the visitor nothing new — the
    /// answer a new address gets (<paramref name="sent"/>). (Only with verification off can either be missing here; the
    /// visitor still gets the same answer, the operator a log line.)
    /// </summary>
    private async Task<PortalResult> AnswerTakenAsync(string email, string origin, string sent, CancellationToken ct)
    {
        if (!mail.CanSend)
        {
            LogOwnerNotTold(logger, "no SMTP server is set (APIGATE_SMTP_URL, smtp.url)");
        }
        else if (LinkBase(origin) is { } links)
        {
            await mail.EnqueueAsync(new PortalEmail(email, $"{options.AppName}: sign-up attempt",
                $"Someone (perhaps you) tried to sign up for {options.AppName} with this address, which already has an account.\n\n" +
                $"Log in at {links}{PortalOptions.BasePath}/login, or reset your password at {links}{PortalOptions.BasePath}/forgot.\n"), ct);
        }
        else
        {
            LogOwnerNotTold(logger, "APIGATE_PORTAL_BASE_URL (portal.base_url) is not set and the request was not made to a loopback address");
        }

        return PortalResult.Success(sent);
    }

    /// <summary>Follows a verification link: marks the address verified and a pending user active.</summary>
    public async Task<PortalResult> VerifyAsync(string? token, CancellationToken ct)
    {
        // The link used up, the address confirmed and a pending user made active: one store transaction, all or none.
        if (!OneTimeTokens.IsWellFormed(token) || await store.ConfirmPortalAddressAsync(OneTimeTokens.Hash(token!), timeProvider.GetUtcNow(), ct) is null)
        {
            return PortalResult.Refused(LinkUnusable);
        }

        return PortalResult.Success("Your email address is confirmed. You can log in now.");
    }

    /// <summary>Checks a login: limiter first (no hashing for a refused attempt), then the password, then the account's state.</summary>
    public async Task<PortalResult> LoginAsync(string? email, string? password, string clientAddress, CancellationToken ct)
    {
        email = email?.Trim() ?? "";
        password ??= "";
        if (email.Length > MaxEmailLength || password.Length > PortalPasswords.MaxLength)
        {
            return PortalResult.Refused(LoginFailed);
        }

        // Counted under the spelling sign-up keeps: another spelling of the same mailbox gets no tries of its own.
        var counted = Emails.Key(email);
        if (await limiter.TakeAsync(counted, clientAddress, ct) is { } wait)
        {
            return PortalResult.TooMany("login attempts", wait);
        }

        var user = await FindByAddressAsync(email, ct);
        var account = user is null ? null : await store.FindPortalAccountAsync(user.Id, ct);
        if (account is null)
        {
            PortalPasswords.VerifyNothing(password);
            return PortalResult.Refused(LoginFailed); // counted already (TakeAsync)
        }

        if (!PortalPasswords.Verify(account.PasswordHash, password, out var rehash))
        {
            return PortalResult.Refused(LoginFailed);
        }

        await limiter.SucceededAsync(counted, clientAddress, ct);
        var checkedHash = account.PasswordHash; // the session is bound to this hash (or its re-hash), never to one read later
        if (rehash)
        {
            // Written only over the hash this login verified: a reset or password change that landed since is kept (not
            // replaced by the old password's re-hash), and this session, bound to the verified hash, ends like the others.
            var stronger = PortalPasswords.Hash(password);
            if (await store.RehashPortalPasswordAsync(user!.Id, account.PasswordHash, stronger, timeProvider.GetUtcNow(), ct))
            {
                checkedHash = stronger;
            }
        }

        // The password is proven from here on, so saying why the login stops reveals nothing to a stranger. A customer
        // suspended for a failed payment signs in to settle it (the session gate shows them the plan page only).
        return user!.Status switch
        {
            UserStatus.Suspended when await billing.OnHoldAsync(user, ct) => PortalResult.Success("Logged in.", user, checkedHash),
            UserStatus.Suspended => PortalResult.Refused("This account is suspended. Please contact the operator."),
            UserStatus.Cancelled => PortalResult.Refused("This account is closed. Please contact the operator."),
            _ when options.RequireVerification && account.EmailVerifiedAt is null =>
                PortalResult.NotConfirmed("Confirm your email address first: follow the link we sent you (log in again after, or ask for a new link below)."),
            UserStatus.Pending => PortalResult.Refused("This account is not active yet. Please contact the operator."),
            _ => PortalResult.Success("Logged in.", user, checkedHash),
        };
    }

    /// <summary>What a successful password change says (also on the page its redirect shows).</summary>
    public const string PasswordChanged = "Your password is changed.";

    /// <summary>What a client past its limit of reset and confirmation-link requests is told they made too many of.</summary>
    private const string MailRequests = "link requests from your network";

    /// <summary>
    /// Answers a request for a reset link, the same for every address; the link itself (if the address has an account)
    /// is issued and mailed after the answer (<see cref="SendRequestedLinkAsync"/>).
    /// </summary>
    public async Task<PortalResult> RequestResetAsync(string? email, string origin, string clientAddress, CancellationToken ct)
    {
        email = email?.Trim() ?? "";
        if (EmailProblem(email) is { } problem)
        {
            return PortalResult.Refused(problem, EmailField);
        }

        if (!mail.CanSend)
        {
            return PortalResult.Refused("Password reset is not available: this portal cannot send email. Please contact the operator.");
        }

        // Decided by the settings and the request's host alone (before any look-up), so it tells nothing about accounts.
        if (LinkBase(origin) is not { } links)
        {
            return PortalResult.Refused(CannotMakeLinks);
        }

        if (await limiter.TakeMailRequestAsync(clientAddress, ct) is { } wait)
        {
            return PortalResult.TooMany(MailRequests, wait);
        }

        // Everything that depends on the address (the look-up, the recipient's mail slot, the token, the message) is
        // done after the answer, so the answer costs the same for every address and its timing tells nothing either.
        linkRequests.TryEnqueue(new PortalLinkRequest(email, PortalTokenPurpose.Reset, links));
        return PortalResult.Success($"If {email} has an account, we sent it a link to reset the password. It works for one hour.");
    }

    /// <summary>Follows a reset link: sets the new password (which also proves the address) and uses the link up.</summary>
    public async Task<PortalResult> ResetAsync(string? token, string? password, CancellationToken ct)
    {
        // The password first: a too-short one must not use the link up.
        if (PortalPasswords.Problem(password) is { } problem)
        {
            return PortalResult.Refused(problem, PasswordField);
        }

        // A read first: a made-up or used-up link costs neither a password hash nor a write.
        var now = timeProvider.GetUtcNow();
        var tokenHash = OneTimeTokens.IsWellFormed(token) ? OneTimeTokens.Hash(token!) : null;
        if (tokenHash is null || !await store.IsPortalTokenUsableAsync(tokenHash, PortalTokenPurpose.Reset, now, ct))
        {
            return PortalResult.Refused(LinkUnusable);
        }

        // The link is used up, the password set and (when addresses must be confirmed) a pending user made active in one
        // store transaction: never a used link with the old password, nor a pending user with the new one.
        if (await store.ResetPortalPasswordAsync(tokenHash, PortalPasswords.Hash(password!), now, activatePending: options.RequireVerification, ct)
            is not { } used)
        {
            return PortalResult.Refused(LinkUnusable);
        }

        LogPasswordReset(logger, used.UserId);
        return PortalResult.Success("Your password is changed. Log in with the new one.");
    }

    /// <summary>Changes the password of a logged-in user who knows the current one.</summary>
    public async Task<PortalResult> ChangePasswordAsync(string userId, string? current, string? replacement, CancellationToken ct)
    {
        if (await store.FindUserAsync(userId, ct) is not { } user || await store.FindPortalAccountAsync(userId, ct) is not { } account)
        {
            return PortalResult.Refused("The current password is incorrect.");
        }

        // Counted like a login for the account (before hashing): a stolen session must not become a way to guess the
        // password behind it at hashing speed. Under the spelling the login counts it (an address stored before the
        // spelling rules, bob@XN--BCHER-KVA.example, is counted as bob@bücher.example there), so the two share one count
        // instead of giving the account twice the tries.
        var counted = Emails.Key(user.Email);
        if (await limiter.TakeForAccountAsync(counted, ct) is { } wait)
        {
            return PortalResult.TooMany("attempts", wait);
        }

        if (current is null || current.Length > PortalPasswords.MaxLength || !PortalPasswords.Verify(account.PasswordHash, current, out _))
        {
            return PortalResult.Refused("The current password is incorrect.", CurrentPasswordField);
        }

        await limiter.AccountSucceededAsync(counted, ct);

        if (PortalPasswords.Problem(replacement) is { } problem)
        {
            return PortalResult.Refused(problem, PasswordField);
        }

        await store.SetPortalPasswordAsync(userId, PortalPasswords.Hash(replacement!), timeProvider.GetUtcNow(), ct);
        return PortalResult.Success(PasswordChanged);
    }

    /// <summary>Sends a new verification link to a user whose address is not verified yet.</summary>
    public async Task<PortalResult> ResendVerificationAsync(string userId, string origin, CancellationToken ct)
    {
        if (await store.FindUserAsync(userId, ct) is not { } user || await store.FindPortalAccountAsync(userId, ct) is not { } account)
        {
            return PortalResult.Refused("No portal account.");
        }

        if (account.EmailVerifiedAt is not null)
        {
            return PortalResult.Success("Your email address is already confirmed.");
        }

        if (!mail.CanSend)
        {
            return PortalResult.Refused(CannotSendEmail);
        }

        if (LinkBase(origin) is not { } links)
        {
            return PortalResult.Refused(CannotMakeLinks);
        }

        await SendVerificationAsync(user, links, ct);
        return PortalResult.Success($"We sent a new link to {user.Email}.");
    }

    /// <summary>
    /// Answers a request for a new verification link by address (a login refused for want of verification), the same for
    /// every address; the link itself (if the address has an unconfirmed account) is issued and mailed after the answer
    /// (<see cref="SendRequestedLinkAsync"/>).
    /// </summary>
    public async Task<PortalResult> ResendVerificationByEmailAsync(string? email, string origin, string clientAddress, CancellationToken ct)
    {
        email = email?.Trim() ?? "";
        if (EmailProblem(email) is { } problem)
        {
            return PortalResult.Refused(problem, EmailField);
        }

        // Said for every address alike (before any look-up), so it tells nothing about accounts.
        if (!mail.CanSend)
        {
            return PortalResult.Refused(CannotSendEmail);
        }

        if (LinkBase(origin) is not { } links)
        {
            return PortalResult.Refused(CannotMakeLinks);
        }

        if (await limiter.TakeMailRequestAsync(clientAddress, ct) is { } wait)
        {
            return PortalResult.TooMany(MailRequests, wait);
        }

        // As for reset links: the look-up and what follows it come after the answer.
        linkRequests.TryEnqueue(new PortalLinkRequest(email, PortalTokenPurpose.Verify, links));
        return PortalResult.Success($"If {email} has an unconfirmed account, we sent it a new link.");
    }

    /// <summary>
    /// The work of a link request answered already (<see cref="RequestResetAsync"/>, <see cref="ResendVerificationByEmailAsync"/>),
    /// run by <see cref="PortalLinkRequestWorker"/>: the address looked up, and for an account (an unconfirmed one, for a
    /// confirmation link) the recipient's mail slot taken, the token stored and the message queued — or nothing.
    /// </summary>
    internal async Task SendRequestedLinkAsync(PortalLinkRequest request, CancellationToken ct)
    {
        if (await FindByAddressAsync(request.Email, ct) is not { } user || await store.FindPortalAccountAsync(user.Id, ct) is not { } account)
        {
            return;
        }

        if (request.Purpose == PortalTokenPurpose.Verify)
        {
            if (account.EmailVerifiedAt is null)
            {
                await SendVerificationAsync(user, request.Links, ct);
            }

            return;
        }

        // Only a link that will be mailed is issued: past the recipient's mail limit the form still answered the same,
        // but no reset token is stored either (a form submitted in a loop adds no rows).
        if (await mail.ReserveAsync(user.Email, ct))
        {
            var token = await IssueAsync(user.Id, PortalTokenPurpose.Reset, PortalOptions.ResetLifetime, ct);
            mail.EnqueueReserved(new PortalEmail(user.Email, $"{options.AppName}: reset your password",
                $"To choose a new password for {options.AppName}, follow this link within one hour. It replaces any reset link we sent you before, which no longer works:\n\n" +
                $"{request.Links}{PortalOptions.BasePath}/reset?token={token}\n\nIf you did not ask for this, ignore this email.\n"));
        }
    }

    /// <summary>The portal account of a user, or null for users the operator created.</summary>
    public Task<PortalAccount?> FindAccountAsync(string userId, CancellationToken ct) => store.FindPortalAccountAsync(userId, ct);

    /// <summary>
    /// What is wrong with an address typed into a form; with <paramref name="newAddress"/> (sign-up) also the spelling
    /// rules for new addresses, which an address stored before them (looked up by reset and resend) does not have to meet.
    /// Without it, another spelling of a well-formed address (a punycode domain, a final '.': <see cref="Emails.KeptSpelling"/>)
    /// is well-formed too, and is looked up under both spellings (<see cref="FindByAddressAsync"/>).
    /// </summary>
    private static string? EmailProblem(string email, bool newAddress = false) => email switch
    {
        { Length: 0 } => "Enter your email address.",
        { Length: > MaxEmailLength } => $"Email address must be at most {MaxEmailLength} characters.",
        _ when newAddress && Emails.SpellingProblem(email) is { } mark => $"Email address {mark}.",
        _ when !LooksLikeEmail(email) && (newAddress || Emails.KeptSpelling(email) is not { } kept || !LooksLikeEmail(kept)) =>
            $"'{email}' is not an email address.",
        _ => null,
    };

    /// <summary>
    /// The user whose address is <paramref name="email"/> as typed (an address stored before the spelling rules is found
    /// as it was stored) or any other spelling of the same mailbox (<see cref="Emails.Key"/>): <c>bob@XN--BCHER-KVA.example</c>
    /// finds <c>bob@bücher.example</c>, the mailbox it names; and the other way round, <c>bob@bücher.example</c> finds an
    /// account stored before the spelling rules as <c>bob@XN--BCHER-KVA.example</c> or <c>bob@bücher。example</c>. Only by
    /// address (a user id typed into the form finds nothing), ASCII letters in any case, as sign-up compares addresses.
    /// </summary>
    private async Task<UserDefinition?> FindByAddressAsync(string email, CancellationToken ct) =>
        email.Length > 0 && await store.FindUserAsync(email, ct) is { } user
            && string.Equals(Emails.Key(user.Email), Emails.Key(email), StringComparison.Ordinal)
            ? user
            : null;

    private static bool LooksLikeEmail(string email)
    {
        var at = email.IndexOf('@');
        return at > 0 && at < email.Length - 1 && email.IndexOf('@', at + 1) < 0 && email.IndexOf('.', at) > at + 1 && !email.EndsWith('.')
               && !email.Any(c => char.IsWhiteSpace(c) || char.IsControl(c) || c is '<' or '>' or '"' or ',' or ';' or '[' or ']')
               // (no address literal such as user@[127.0.0.1]: the portal mails domains, not hosts of the visitor's choosing)
               && Core.Management.TextFields.IndexOfInvisible(email) < 0 // a zero-width space: looks like another address
               // and the mail library reads it as this very address (not a group, a comment or a different mailbox)
               && MimeKit.MailboxAddress.TryParse(email, out var parsed) && string.Equals(parsed.Address, email, StringComparison.OrdinalIgnoreCase);
    }

    /// <param name="links">Where the link points (<see cref="LinkBase"/>).</param>
    private async Task SendVerificationAsync(UserDefinition user, string links, CancellationToken ct)
    {
        // The recipient's slot first (as for reset links): past the mail limit no link is issued, so a resend form
        // posted in a loop stores no token rows.
        if (!mail.CanSend || !await mail.ReserveAsync(user.Email, ct))
        {
            return;
        }

        var token = await IssueAsync(user.Id, PortalTokenPurpose.Verify, PortalOptions.VerifyLifetime, ct);
        mail.EnqueueReserved(new PortalEmail(user.Email, $"{options.AppName}: confirm your email address",
            $"Welcome to {options.AppName}. To confirm this address, follow this link within 24 hours. It replaces any confirmation link we sent you before, which no longer works:\n\n" +
            $"{links}{PortalOptions.BasePath}/verify?token={token}\n\nIf you did not sign up, ignore this email.\n"));
    }

    private async Task<string> IssueAsync(string userId, PortalTokenPurpose purpose, TimeSpan lifetime, CancellationToken ct)
    {
        var token = OneTimeTokens.Generate();
        var now = timeProvider.GetUtcNow();
        await store.CreatePortalTokenAsync(new PortalToken
        {
            Id = Ids.New("ptk"),
            UserId = userId,
            Purpose = purpose,
            Hash = OneTimeTokens.Hash(token),
            CreatedAt = now,
            ExpiresAt = now + lifetime,
        }, ct);
        return token;
    }

    /// <summary>
    /// Where links in emails point: <c>APIGATE_PORTAL_BASE_URL</c>, else the request's own address — but only when that
    /// is a loopback address (a local trial). The request's Host header is the client's to choose: a reset link built
    /// from <c>Host: attacker.example</c> would hand the victim's token to whoever owns that host. Null when no link may
    /// be made: the caller refuses with <see cref="CannotMakeLinks"/>, and the setting to configure is logged once.
    /// </summary>
    private string? LinkBase(string origin)
    {
        if (options.BaseUrl.Length > 0)
        {
            return options.BaseUrl;
        }

        if (Uri.TryCreate(origin, UriKind.Absolute, out var uri) && uri.IsLoopback)
        {
            // Rebuilt from what was parsed (scheme, host, port), never the text itself: no user-info or trailing junk
            // can ride along into a link.
            return uri.Scheme + "://" + uri.Authority;
        }

        if (Interlocked.Exchange(ref _noLinkBaseLogged, 1) == 0)
        {
            LogNoLinkBase(logger, uri?.Host ?? "");
        }

        return null;
    }

    [LoggerMessage(EventId = 8007, Level = LogLevel.Warning,
        Message = "Portal sign-up, password reset and confirmation links refused: set APIGATE_PORTAL_BASE_URL (portal.base_url) to the portal's public address; without it links are made only for requests to a loopback address, and a request named host {Host} (the Host header, which any client can set). Logged once")]
    private static partial void LogNoLinkBase(ILogger logger, string host);

    [LoggerMessage(EventId = 8010, Level = LogLevel.Information, Message = "Portal sign-up created user {UserId}")]
    private static partial void LogSignedUp(ILogger logger, string userId);

    [LoggerMessage(EventId = 8013, Level = LogLevel.Information,
        Message = "Portal sign-up for an address that already has an account answered as a new one, but its owner could not be told of the attempt: {Reason}")]
    private static partial void LogOwnerNotTold(ILogger logger, string reason);

    [LoggerMessage(EventId = 8011, Level = LogLevel.Information, Message = "Portal password reset for user {UserId}")]
    private static partial void LogPasswordReset(ILogger logger, string userId);
}
