using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace ApiGate.Gateway.Identity;

/// <summary>
/// Remembers when each key was last used, in memory (one word per key, written without allocating);
/// <see cref="Limits.UsageFlusher"/> writes the times that changed in batches.
/// </summary>
internal sealed class KeyUsageTracker
{
    private readonly ConcurrentDictionary<string, StrongBox<long>> _lastUsed = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _flushed = new(StringComparer.Ordinal);

    public void Touch(string keyId, DateTimeOffset at)
    {
        var box = _lastUsed.GetOrAdd(keyId, static _ => new StrongBox<long>());
        Volatile.Write(ref box.Value, at.UtcTicks);
    }

    /// <summary>The keys used since the last call, with their latest use.</summary>
    public IReadOnlyDictionary<string, DateTimeOffset> Drain()
    {
        var changed = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        foreach (var (keyId, box) in _lastUsed)
        {
            var ticks = Volatile.Read(ref box.Value);
            if (_flushed.GetValueOrDefault(keyId) != ticks)
            {
                _flushed[keyId] = ticks;
                changed[keyId] = new DateTimeOffset(ticks, TimeSpan.Zero);
            }
        }

        return changed;
    }
}
