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
/// no hashing and tells nothing. Memory is bounded: past <see cref="MaxEntries"/> entries, expired ones are dropped,
/// then the oldest.
/// </summary>
internal sealed class LoginLimiter(TimeProvider timeProvider, int accountLimit = 5, int addressLimit = 20, TimeSpan? window = null)
{
    /// <summary>Entries kept before pruning.</summary>
    public const int MaxEntries = 50_000;

    private readonly TimeSpan _window = window ?? TimeSpan.FromMinutes(15);
    private readonly Dictionary<string, LoginFailures> _failures = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Null when an attempt for this account from this address may go ahead; else how long until it may.</summary>
    public TimeSpan? Check(string account, string address)
    {
        var now = timeProvider.GetUtcNow();
        lock (_lock)
        {
            var byAccount = LoginFailures.RetryAfter(Find(AccountKey(account)), accountLimit, _window, now);
            var byAddress = LoginFailures.RetryAfter(Find(AddressKey(address)), addressLimit, _window, now);
            return byAccount is null ? byAddress : byAddress is null ? byAccount : (byAccount > byAddress ? byAccount : byAddress);
        }
    }

    /// <summary>Counts a failed attempt against the account and the address.</summary>
    public void RecordFailure(string account, string address)
    {
        var now = timeProvider.GetUtcNow();
        lock (_lock)
        {
            PruneIfFullLocked(now);
            var accountKey = AccountKey(account);
            var addressKey = AddressKey(address);
            _failures[accountKey] = LoginFailures.After(Find(accountKey), _window, now);
            _failures[addressKey] = LoginFailures.After(Find(addressKey), _window, now);
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

    private LoginFailures? Find(string key) => _failures.TryGetValue(key, out var state) ? state : null;

    private static string AccountKey(string account) => "a:" + account.Trim().ToLowerInvariant();

    private static string AddressKey(string address) => "i:" + address;

    private void PruneIfFullLocked(DateTimeOffset now)
    {
        if (_failures.Count < MaxEntries)
        {
            return;
        }

        foreach (var (key, state) in _failures)
        {
            if (now - state.WindowStart >= _window)
            {
                _failures.Remove(key);
            }
        }

        if (_failures.Count >= MaxEntries)
        {
            // Still full of live entries (a flood of made-up emails): forget the oldest half rather than grow without bound.
            var cutoff = _failures.Values.Select(s => s.WindowStart).Order().ElementAt(_failures.Count / 2);
            foreach (var (key, state) in _failures)
            {
                if (state.WindowStart <= cutoff)
                {
                    _failures.Remove(key);
                }
            }
        }
    }
}
