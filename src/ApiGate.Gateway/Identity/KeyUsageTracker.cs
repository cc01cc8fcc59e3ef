using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

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

    private sealed class LastUse
    {
        private readonly ConcurrentDictionary<string, StrongBox<long>> _lastUsed = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, long> _flushed = new(StringComparer.Ordinal);

        public void Touch(string id, DateTimeOffset at)
        {
            var box = _lastUsed.GetOrAdd(id, static _ => new StrongBox<long>());
            Volatile.Write(ref box.Value, at.UtcTicks);
        }

        public IReadOnlyDictionary<string, DateTimeOffset> Drain()
        {
            var changed = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
            foreach (var (id, box) in _lastUsed)
            {
                var ticks = Volatile.Read(ref box.Value);
                if (_flushed.GetValueOrDefault(id) != ticks)
                {
                    _flushed[id] = ticks;
                    changed[id] = new DateTimeOffset(ticks, TimeSpan.Zero);
                }
            }

            return changed;
        }
    }
}
