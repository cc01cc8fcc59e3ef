using System.Collections.Concurrent;
using ApiGate.Core.Timing;

namespace ApiGate.Gateway.Identity;

/// <summary>
/// Remembers when each API key and each admin token was last used, in memory (one word per credential, written
/// without allocating); <see cref="Limits.UsageFlusher"/> writes the times that changed in batches, through the
/// store writer thread. Requests (admin reads included) never write <c>last_used_at</c> themselves.
/// </summary>
internal sealed class KeyUsageTracker
{
    private readonly LastUse _keys;
    private readonly LastUse _adminTokens;
    private readonly ChangeSignal _firstUse = new();
    private int _waiting; // 1 while the flusher sleeps until a credential is used

    public KeyUsageTracker()
    {
        _keys = new LastUse(this);
        _adminTokens = new LastUse(this);
    }

    public void Touch(string keyId, DateTimeOffset at) => _keys.Touch(keyId, at);

    /// <summary>Records the use of an admin token (by id).</summary>
    public void TouchAdminToken(string tokenId, DateTimeOffset at) => _adminTokens.Touch(tokenId, at);

    /// <summary>The keys used since the last call, with their latest use.</summary>
    public IReadOnlyDictionary<string, DateTimeOffset> Drain() => _keys.Drain();

    /// <summary>The admin tokens used since the last call, with their latest use.</summary>
    public IReadOnlyDictionary<string, DateTimeOffset> DrainAdminTokens() => _adminTokens.Drain();

    /// <summary>Ids touched and not yet let go; for tests and diagnostics.</summary>
    internal int TrackedKeys => _keys.Count;

    /// <summary>
    /// Completes when a credential is next used, or at once when one is tracked now (a drain still has something to
    /// hand out or let go). The flusher sleeps on it instead of waking every second with nothing to write.
    /// </summary>
    public Task NextUseAsync(CancellationToken cancellationToken)
    {
        var used = _firstUse.Next;
        Interlocked.Exchange(ref _waiting, 1); // set, then look: a touch adds, then looks (both full fences)
        if (!_keys.IsEmpty || !_adminTokens.IsEmpty)
        {
            Interlocked.Exchange(ref _waiting, 0);
            return Task.CompletedTask;
        }

        return used.WaitAsync(cancellationToken);
    }

    /// <summary>Whether the flusher is sleeping until a credential is used; for tests.</summary>
    internal bool FlusherWaiting => Volatile.Read(ref _waiting) == 1;

    /// <summary>A credential not tracked before was used: wakes a sleeping flusher (rare: once per idle credential).</summary>
    private void Added()
    {
        if (Interlocked.CompareExchange(ref _waiting, 0, 1) == 1)
        {
            _firstUse.Raise();
        }
    }

    /// <summary>
    /// The last use of each id, and what was last handed out for it. An id whose use has not changed since it was last
    /// handed out is let go at the next drain, so memory holds the credentials used in the last couple of seconds, not
    /// every one ever used (a customer who creates, uses and revokes keys in a loop would grow it without end).
    /// </summary>
    private sealed class LastUse(KeyUsageTracker owner)
    {
        private readonly ConcurrentDictionary<string, Use> _lastUsed = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, long> _flushed = new(StringComparer.Ordinal);

        public int Count => _lastUsed.Count;

        public bool IsEmpty => _lastUsed.IsEmpty;

        public void Touch(string id, DateTimeOffset at)
        {
            while (true)
            {
                if (!_lastUsed.TryGetValue(id, out var use))
                {
                    use = _lastUsed.GetOrAdd(id, static _ => new Use());
                    owner.Added();
                }

                Interlocked.Exchange(ref use.Ticks, at.UtcTicks);
                // Written, then checked (a drain marks, then reads): either the drain saw this time or this sees the mark.
                if (Volatile.Read(ref use.Removed) == 0)
                {
                    return;
                }

                _lastUsed.TryRemove(new KeyValuePair<string, Use>(id, use));
            }
        }

        public IReadOnlyDictionary<string, DateTimeOffset> Drain()
        {
            var changed = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
            foreach (var (id, use) in _lastUsed)
            {
                var ticks = Interlocked.Read(ref use.Ticks);
                if (_flushed.GetValueOrDefault(id) != ticks)
                {
                    _flushed[id] = ticks;
                    changed[id] = new DateTimeOffset(ticks, TimeSpan.Zero);
                    continue;
                }

                // Not used since it was last handed out: let it go. A touch racing this is handed out now, and the touch
                // itself starts a fresh entry.
                Interlocked.Exchange(ref use.Removed, 1);
                var after = Interlocked.Read(ref use.Ticks);
                _lastUsed.TryRemove(new KeyValuePair<string, Use>(id, use));
                _flushed.TryRemove(id, out _);
                if (after != ticks)
                {
                    changed[id] = new DateTimeOffset(after, TimeSpan.Zero);
                }
            }

            return changed;
        }
    }

    private sealed class Use
    {
        public long Ticks;
        public int Removed;
    }
}
