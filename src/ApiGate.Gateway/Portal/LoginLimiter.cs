using ApiGate.Gateway.Identity;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// Limits portal login attempts per client address (an IPv6 client by its /64) and per account (the email as typed,
/// whether or not an account exists, so the limit reveals nothing). Attempts are counted before the password is
/// checked, so a refused attempt costs no hashing and tells nothing, and attempts sent at once cannot all get through.
/// The address is counted first: an address already refused counts nothing against the account it names, so one
/// guesser cannot lock out account after account, nor add a stored count per email it makes up. Counted in the store
/// (<see cref="AttemptCounter"/>): every instance sharing it counts together. Sign-ups are limited per address too:
/// each one hashes a password and may queue a mail, so a form posted in a loop could otherwise keep a core busy. For
/// the same reason every check of an account's password (a login, a password change), right or wrong, counts against
/// <c>checkLimit</c> and is never taken back: a success clears the failures, so without it the owner of an account
/// (anyone, by signing up) could log in in a loop, a password hash each time, for ever. The two forms that mail an
/// address someone types (a reset link, a new confirmation link) are limited per client address as well: the per-recipient
/// mail limit alone let one client go through a list of registered addresses, five mails each.
/// </summary>
internal sealed class LoginLimiter(
    AttemptCounter counter, int accountLimit = 5, int addressLimit = 20, TimeSpan? window = null, int signUpLimit = 10, int checkLimit = 20,
    int mailRequestLimit = 20)
{
    /// <summary>The window of the limit on reset and confirmation-link requests per client address.</summary>
    public static readonly TimeSpan MailRequestWindow = TimeSpan.FromHours(1);

    /// <summary>The window of the sign-up limit.</summary>
    public static readonly TimeSpan SignUpWindow = TimeSpan.FromHours(1);

    private readonly TimeSpan _window = window ?? TimeSpan.FromMinutes(15);

    /// <summary>Counts a sign-up from this address before its password is hashed: null when it may go ahead, else how long until it may.</summary>
    public Task<TimeSpan?> TakeSignUpAsync(string address, CancellationToken ct) =>
        counter.TakeAsync(BySignUpAddress, AttemptCounter.AddressKey(address), signUpLimit, SignUpWindow, ct);

    /// <summary>
    /// Counts a request for a reset or confirmation link from this address before anything is looked up (alike for
    /// registered and unknown addresses, so it tells nothing): null when it may go ahead, else how long until it may.
    /// </summary>
    public Task<TimeSpan?> TakeMailRequestAsync(string address, CancellationToken ct) =>
        counter.TakeAsync(ByMailRequestAddress, AttemptCounter.AddressKey(address), mailRequestLimit, MailRequestWindow, ct);

    /// <summary>
    /// Counts a login attempt for this account from this address before the password is checked (so attempts sent at
    /// once cannot all pass): null when it may go ahead, else how long until it may.
    /// </summary>
    public async Task<TimeSpan?> TakeAsync(string account, string address, CancellationToken ct) =>
        await counter.TakeAsync(ByAddress, AttemptCounter.AddressKey(address), addressLimit, _window, ct)
        ?? await TakeForAccountAsync(account, ct);

    /// <summary>
    /// Counts a check of an account's password before it is made: against the account's password checks (every one, right
    /// or wrong) and its failures (cleared by a success). Also for the current password of a signed-in account (changing
    /// the password), so a stolen session cannot be used to guess the password behind it. Null when it may go ahead.
    /// </summary>
    public async Task<TimeSpan?> TakeForAccountAsync(string account, CancellationToken ct) =>
        await counter.TakeAsync(ByAccountChecks, Normalized(account), checkLimit, _window, ct)
        ?? await counter.TakeAsync(ByAccount, Normalized(account), accountLimit, _window, ct);

    /// <summary>The current password was right: the account's count is cleared.</summary>
    public Task AccountSucceededAsync(string account, CancellationToken ct) => counter.RemoveAsync(ByAccount, Normalized(account), ct);

    /// <summary>
    /// The password was right: the account's count is cleared, and the attempt is taken back from the address's count
    /// (one good password does not excuse guessing others, and does not count as a guess either).
    /// </summary>
    public async Task SucceededAsync(string account, string address, CancellationToken ct)
    {
        await counter.RemoveAsync(ByAccount, Normalized(account), ct);
        await counter.RefundAsync(ByAddress, AttemptCounter.AddressKey(address), ct);
    }

    private const string ByAccount = "portal-login-account";

    private const string ByAccountChecks = "portal-password-checks";

    private const string ByAddress = "portal-login-address";

    private const string BySignUpAddress = "portal-signup-address";

    private const string ByMailRequestAddress = "portal-mail-request-address";

    private static string Normalized(string account) => account.Trim().ToLowerInvariant();
}
