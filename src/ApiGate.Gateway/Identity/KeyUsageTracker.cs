using System.Collections.Concurrent;

namespace ApiGate.Gateway.Identity;

/// <summary>
/// Remembers when each API key and each admin token was last used, in memory (one word per credential, written
/// without allocating); <see cref="Limits.UsageFlusher"/> writes the times that changed in batches, through the
/// store writer thread. Requests (admin reads included) never write <c>last_used_at</c> themselves.
/// </summary>
internal sealed class KeyUsageTracker
{
    private readonly LastUse _keys = new();
    private readonly LastUse _adminTokens = new();

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
    /// The last use of each id, and what was last handed out for it. An id whose use has not changed since it was last
    /// handed out is let go at the next drain, so memory holds the credentials used in the last couple of seconds, not
    /// every one ever used (a customer who creates, uses and revokes keys in a loop would grow it without end).
    /// </summary>
    private sealed class LastUse
    {
        private readonly ConcurrentDictionary<string, Use> _lastUsed = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, long> _flushed = new(StringComparer.Ordinal);

        public int Count => _lastUsed.Count;

        public void Touch(string id, DateTimeOffset at)
        {
            while (true)
            {
                var use = _lastUsed.GetOrAdd(id, static _ => new Use());
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
