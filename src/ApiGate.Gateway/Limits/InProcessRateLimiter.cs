using System.Collections.Concurrent;
using ApiGate.Core.RateLimiting;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// Token buckets per API key in this process (SPEC §4.1, the embedded default). Each bucket's read-modify-write runs
/// under its own lock, so N parallel requests never take more tokens than the bucket holds. A bucket that has refilled
/// is the same as none (a new bucket starts full), so once every <see cref="SweepInterval"/> the buckets that are full
/// again are let go: memory holds the keys used lately, not every key ever used (revoked ones included).
/// </summary>
internal sealed class InProcessRateLimiter(TimeProvider timeProvider)
{
    /// <summary>How often buckets that are full again are let go (by whichever request comes then).</summary>
    public static readonly TimeSpan SweepInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);
    private readonly Core.Timing.OncePer _sweep = new(SweepInterval);

    /// <summary>Buckets held now; for tests and diagnostics.</summary>
    public int Count => _buckets.Count;

    public RateLimitDecision TryTake(string keyId, TokenBucketPolicy policy)
    {
        if (_sweep.Due(timeProvider.GetUtcNow()))
        {
            Sweep();
        }

        while (true)
        {
            var bucket = _buckets.GetOrAdd(keyId, static _ => new Bucket());
            lock (bucket)
            {
                if (bucket.Removed)
                {
                    continue; // let go by a sweep after this request found it: take from the one that replaces it
                }

                var decision = TokenBucket.TryTake(ref bucket.State, policy, timeProvider.GetUtcNow());
                bucket.FullAt = decision.ResetAt;
                return decision;
            }
        }
    }

    private void Sweep()
    {
        foreach (var (keyId, bucket) in _buckets)
        {
            lock (bucket)
            {
                if (bucket.FullAt > timeProvider.GetUtcNow())
                {
                    continue;
                }

                bucket.Removed = true;
            }

            _buckets.TryRemove(new KeyValuePair<string, Bucket>(keyId, bucket));
        }
    }

    private sealed class Bucket
    {
        public TokenBucketState State;

        /// <summary>When the bucket is full again if nothing more is taken (rounded up to a second).</summary>
        public DateTimeOffset FullAt;

        public bool Removed;
    }
}
