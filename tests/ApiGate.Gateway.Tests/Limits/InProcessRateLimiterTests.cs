using ApiGate.Core.RateLimiting;
using ApiGate.Gateway.Limits;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Limits;

/// <summary>The in-process buckets hold the keys used lately: a bucket full again is the same as none and is let go.</summary>
public sealed class InProcessRateLimiterTests
{
    private static readonly TokenBucketPolicy TenPerMinute = TokenBucketPolicy.FromPlan(10, 0); // full again 6 s after one take

    [Fact]
    public void TryTake_ThousandKeysUsedOnceThenIdle_BucketsLetGoAtTheNextSweep()
    {
        // Arrange: a thousand keys, each used once (a customer creating, using and revoking keys in a loop)
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
        var limiter = new InProcessRateLimiter(clock);
        for (var i = 0; i < 1_000; i++)
        {
            limiter.TryTake("key_" + i, TenPerMinute);
        }

        var held = limiter.Count;

        // Act: past the sweep interval, the next request (another key) sweeps
        clock.Advance(InProcessRateLimiter.SweepInterval);
        limiter.TryTake("key_next", TenPerMinute);

        // Assert
        Assert.Equal(1_000, held);
        Assert.Equal(1, limiter.Count);
    }

    [Fact]
    public void TryTake_BucketNotFullAgainAtTheSweep_KeepsItsTokens()
    {
        // Arrange: a slow bucket (1 token a minute, 3 held) emptied
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero));
        var limiter = new InProcessRateLimiter(clock);
        var slow = TokenBucketPolicy.FromPlan(1, 2);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(limiter.TryTake("key_slow", slow).Allowed);
        }

        // Act: a sweep runs after one minute (one token back, not three)
        clock.Advance(InProcessRateLimiter.SweepInterval);
        var first = limiter.TryTake("key_slow", slow);
        var second = limiter.TryTake("key_slow", slow);

        // Assert: the bucket was kept, so only the refilled token is there
        Assert.True(first.Allowed);
        Assert.False(second.Allowed);
        Assert.Equal(1, limiter.Count);
    }
}
