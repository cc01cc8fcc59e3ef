namespace ApiGate.Gateway.Portal;

/// <summary>Failed logins counted for one account or one client address: how many since the window started.</summary>
internal readonly record struct LoginFailures(int Count, DateTimeOffset WindowStart)
{
    /// <summary>
    /// The pure rule: with <paramref name="state"/> (null: no failures on record), is another attempt refused at
    /// <paramref name="now"/>, and for how long? Refused once <paramref name="limit"/> failures fall in one window
    /// that started at the first of them; the window ending clears the count.
    /// </summary>
    public static TimeSpan? RetryAfter(LoginFailures? state, int limit, TimeSpan window, DateTimeOffset now) =>
        state is { } s && now - s.WindowStart < window && s.Count >= limit ? s.WindowStart + window - now : null;

    /// <summary>The state after one more failure at <paramref name="now"/>.</summary>
    public static LoginFailures After(LoginFailures? state, TimeSpan window, DateTimeOffset now) =>
        state is { } s && now - s.WindowStart < window ? s with { Count = s.Count + 1 } : new LoginFailures(1, now);
}

/// <summary>
/// Limits portal login attempts per account (the email as typed, whether or not an account exists, so the limit
/// reveals nothing) and per client address. Attempts are checked before the password is, so a refused attempt costs
/// no hashing and tells nothing. Memory is bounded (<see cref="WindowedCounts"/>).
/// </summary>
internal sealed class LoginLimiter(TimeProvider timeProvider, int accountLimit = 5, int addressLimit = 20, TimeSpan? window = null)
{
    private readonly WindowedCounts _failures = new(window ?? TimeSpan.FromMinutes(15));
    private readonly Lock _lock = new();

    /// <summary>Null when an attempt for this account from this address may go ahead; else how long until it may.</summary>
    public TimeSpan? Check(string account, string address)
    {
        var now = timeProvider.GetUtcNow();
        lock (_lock)
        {
            var byAccount = _failures.RetryAfter(AccountKey(account), accountLimit, now);
            var byAddress = _failures.RetryAfter(AddressKey(address), addressLimit, now);
            return byAccount is null ? byAddress : byAddress is null ? byAccount : (byAccount > byAddress ? byAccount : byAddress);
        }
    }

    /// <summary>Counts a failed attempt against the account and the address.</summary>
    public void RecordFailure(string account, string address)
    {
        var now = timeProvider.GetUtcNow();
        lock (_lock)
        {
            _failures.Add(AccountKey(account), now);
            _failures.Add(AddressKey(address), now);
        }
    }

    /// <summary>A successful login clears the account's count (not the address's: one good password does not excuse guessing others).</summary>
    public void RecordSuccess(string account)
    {
        lock (_lock)
        {
            _failures.Remove(AccountKey(account));
        }
    }

    private static string AccountKey(string account) => "a:" + account.Trim().ToLowerInvariant();

    private static string AddressKey(string address) => "i:" + address;
}
