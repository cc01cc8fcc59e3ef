using ApiGate.Gateway.Identity;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// Limits portal login attempts per account (the email as typed, whether or not an account exists, so the limit
/// reveals nothing) and per client address. Attempts are checked before the password is, so a refused attempt costs
/// no hashing and tells nothing. Counted in the store (<see cref="AttemptCounter"/>): every instance sharing it counts
/// together.
/// </summary>
internal sealed class LoginLimiter(AttemptCounter counter, int accountLimit = 5, int addressLimit = 20, TimeSpan? window = null)
{
    private readonly TimeSpan _window = window ?? TimeSpan.FromMinutes(15);

    /// <summary>Null when an attempt for this account from this address may go ahead; else how long until it may.</summary>
    public async Task<TimeSpan?> CheckAsync(string account, string address, CancellationToken ct)
    {
        var byAccount = await counter.RetryAfterAsync(ByAccount, Normalized(account), accountLimit, _window, ct);
        var byAddress = await counter.RetryAfterAsync(ByAddress, address, addressLimit, _window, ct);
        return byAccount is null ? byAddress : byAddress is null ? byAccount : (byAccount > byAddress ? byAccount : byAddress);
    }

    /// <summary>Counts a failed attempt against the account and the address.</summary>
    public async Task RecordFailureAsync(string account, string address, CancellationToken ct)
    {
        await counter.AddAsync(ByAccount, Normalized(account), _window, ct);
        await counter.AddAsync(ByAddress, address, _window, ct);
    }

    /// <summary>A successful login clears the account's count (not the address's: one good password does not excuse guessing others).</summary>
    public Task RecordSuccessAsync(string account, CancellationToken ct) => counter.RemoveAsync(ByAccount, Normalized(account), ct);

    private const string ByAccount = "portal-login-account";

    private const string ByAddress = "portal-login-address";

    private static string Normalized(string account) => account.Trim().ToLowerInvariant();
}
