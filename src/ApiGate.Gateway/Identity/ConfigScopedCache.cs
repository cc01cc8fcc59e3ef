using System.Collections.Concurrent;

namespace ApiGate.Gateway.Identity;

/// <summary>
/// What a credential resolved to when it was read from the store, kept for one config version: the first lookup under
/// a newer version clears it (a revoked key, a suspended user or a changed plan is read again), and so does reaching
/// <c>maxEntries</c> (found and unknown credentials alike, so a flood of made-up ones cannot grow it without bound).
/// The version only moves forward: a request still holding an older snapshot reads what newer ones cached (it is at
/// least as fresh) and never clears it, and a lookup that began under an older version is not kept once a newer one
/// has started (it may have read the store before a key was revoked or a user suspended).
/// </summary>
internal sealed class ConfigScopedCache<TKey, TValue>(int maxEntries, IEqualityComparer<TKey>? comparer = null)
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, TValue> _entries = new(comparer);
    private long _version = -1;

    /// <summary>The entry for <paramref name="key"/> cached under <paramref name="version"/> or a newer one (older entries are dropped first).</summary>
    public bool TryGet(long version, TKey key, out TValue value)
    {
        if (Volatile.Read(ref _version) < version)
        {
            lock (_entries)
            {
                if (_version < version)
                {
                    _entries.Clear();
                    Volatile.Write(ref _version, version);
                }
            }
        }

        return _entries.TryGetValue(key, out value!);
    }

    /// <summary>Keeps what a lookup made under <paramref name="version"/> found, unless a newer version has started since.</summary>
    public void Set(long version, TKey key, TValue value)
    {
        lock (_entries)
        {
            if (_version != version)
            {
                return;
            }

            if (_entries.Count >= maxEntries)
            {
                _entries.Clear();
            }

            _entries[key] = value;
        }
    }
}
