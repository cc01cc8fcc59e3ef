using System.Collections.Concurrent;
using ApiGate.Core.RateLimiting;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// Token buckets per API key in this process (SPEC §4.1, the embedded default). Each bucket's read-modify-write runs
/// under its own lock, so N parallel requests never take more tokens than the bucket holds.
/// </summary>
internal sealed class InProcessRateLimiter(TimeProvider timeProvider)
{
    private readonly ConcurrentDictionary<string, Bucket> _buckets = new(StringComparer.Ordinal);

    public RateLimitDecision TryTake(string keyId, TokenBucketPolicy policy)
    {
        var bucket = _buckets.GetOrAdd(keyId, static _ => new Bucket());
        lock (bucket)
        {
            return TokenBucket.TryTake(ref bucket.State, policy, timeProvider.GetUtcNow());
        }
    }

    private sealed class Bucket
    {
        public TokenBucketState State;
    }
}
