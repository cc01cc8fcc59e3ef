using System.Collections.Concurrent;

namespace ApiGate.Gateway.Identity;

/// <summary>Remembers when each key was last used, in memory; <see cref="Limits.UsageFlusher"/> writes it in batches.</summary>
internal sealed class KeyUsageTracker
{
    private ConcurrentDictionary<string, DateTimeOffset> _lastUsed = new(StringComparer.Ordinal);

    public void Touch(string keyId, DateTimeOffset at) => _lastUsed[keyId] = at;

    /// <summary>Takes everything recorded since the last call.</summary>
    public IReadOnlyDictionary<string, DateTimeOffset> Drain() => Interlocked.Exchange(ref _lastUsed, new(StringComparer.Ordinal));
}
