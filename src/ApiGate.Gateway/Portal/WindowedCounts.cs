namespace ApiGate.Gateway.Portal;

/// <summary>
/// Counts per key, each in a window that starts at the key's first count (<see cref="LoginFailures"/>), in bounded
/// memory: past <see cref="MaxEntries"/> keys, expired ones are dropped, then the oldest half. Not thread-safe: its
/// owner locks.
/// </summary>
internal sealed class WindowedCounts(TimeSpan window)
{
    /// <summary>Keys kept before pruning.</summary>
    public const int MaxEntries = 50_000;

    private readonly Dictionary<string, LoginFailures> _counts = new(StringComparer.Ordinal);

    /// <summary>Null when <paramref name="key"/> is under <paramref name="limit"/> in its window at <paramref name="now"/>; else how long until it is.</summary>
    public TimeSpan? RetryAfter(string key, int limit, DateTimeOffset now) => LoginFailures.RetryAfter(Find(key), limit, window, now);

    /// <summary>Counts one more for <paramref name="key"/> at <paramref name="now"/>.</summary>
    public void Add(string key, DateTimeOffset now)
    {
        PruneIfFull(now);
        _counts[key] = LoginFailures.After(Find(key), window, now);
    }

    public void Remove(string key) => _counts.Remove(key);

    private LoginFailures? Find(string key) => _counts.TryGetValue(key, out var state) ? state : null;

    private void PruneIfFull(DateTimeOffset now)
    {
        if (_counts.Count < MaxEntries)
        {
            return;
        }

        foreach (var (key, state) in _counts)
        {
            if (now - state.WindowStart >= window)
            {
                _counts.Remove(key);
            }
        }

        if (_counts.Count >= MaxEntries)
        {
            // Still full of live entries (a flood of made-up emails): forget the oldest half rather than grow without bound.
            var cutoff = _counts.Values.Select(s => s.WindowStart).Order().ElementAt(_counts.Count / 2);
            foreach (var (key, state) in _counts)
            {
                if (state.WindowStart <= cutoff)
                {
                    _counts.Remove(key);
                }
            }
        }
    }
}
