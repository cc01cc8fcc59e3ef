using ApiGate.Gateway.Identity;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// Limits portal login attempts per account (the email as typed, whether or not an account exists, so the limit
/// reveals nothing) and per client address. Attempts are counted before the password is checked, so a refused attempt
/// costs no hashing and tells nothing, and attempts sent at once cannot all get through. Counted in the store (<see cref="AttemptCounter"/>): every instance sharing it counts
/// together.
/// </summary>
internal sealed class LoginLimiter(AttemptCounter counter, int accountLimit = 5, int addressLimit = 20, TimeSpan? window = null)
{
    private readonly TimeSpan _window = window ?? TimeSpan.FromMinutes(15);

    /// <summary>
    /// Counts a login attempt for this account from this address before the password is checked (so attempts sent at
    /// once cannot all pass): null when it may go ahead, else how long until it may.
    /// </summary>
    public async Task<TimeSpan?> TakeAsync(string account, string address, CancellationToken ct)
    {
        var byAccount = await counter.TakeAsync(ByAccount, Normalized(account), accountLimit, _window, ct);
        var byAddress = await counter.TakeAsync(ByAddress, address, addressLimit, _window, ct);
        return byAccount is null ? byAddress : byAddress is null ? byAccount : (byAccount > byAddress ? byAccount : byAddress);
    }

    /// <summary>
    /// The password was right: the account's count is cleared, and the attempt is taken back from the address's count
    /// (one good password does not excuse guessing others, and does not count as a guess either).
    /// </summary>
    public async Task SucceededAsync(string account, string address, CancellationToken ct)
    {
        await counter.RemoveAsync(ByAccount, Normalized(account), ct);
        await counter.RefundAsync(ByAddress, address, ct);
    }

    private const string ByAccount = "portal-login-account";

    private const string ByAddress = "portal-login-address";

    private static string Normalized(string account) => account.Trim().ToLowerInvariant();
}
