namespace ApiGate.Core.RateLimiting;

/// <summary>A bucket's shape: refill rate and capacity.</summary>
public readonly record struct TokenBucketPolicy(double TokensPerSecond, double Capacity)
{
    /// <summary>
    /// SPEC §4.1: refill at rate/60 per second; capacity = the per-minute rate plus the global burst, added as doubles:
    /// in int arithmetic the largest rate a plan takes (2,147,483,647) plus the burst wrapped round to a negative capacity,
    /// which refused every request of the plan with 429 (and, in Redis, turned the limit off).
    /// </summary>
    public static TokenBucketPolicy FromPlan(int ratePerMinute, int burst) => new(ratePerMinute / 60.0, (double)ratePerMinute + Math.Max(0, burst));
}

/// <summary>A bucket's mutable state: tokens left and when they were last computed. Default = not started (full).</summary>
public struct TokenBucketState
{
    public double Tokens;
    public DateTimeOffset UpdatedAt;
    public bool Started;
}

/// <summary>The outcome of taking a token.</summary>
public readonly record struct RateLimitDecision(bool Allowed, long Limit, long Remaining, TimeSpan RetryAfter, DateTimeOffset ResetAt);

/// <summary>
/// The token bucket of SPEC §4.1 as a pure function over a state value and an explicit clock reading: refill is
/// continuous, each request takes one token, an empty bucket reports when the next token is back. Callers make the
/// read-modify-write atomic (a lock per bucket in process, a script in Redis).
/// </summary>
public static class TokenBucket
{
    public static RateLimitDecision TryTake(ref TokenBucketState state, TokenBucketPolicy policy, DateTimeOffset now)
    {
        var capacity = policy.Capacity;
        if (!state.Started)
        {
            state = new TokenBucketState { Tokens = capacity, UpdatedAt = now, Started = true };
        }
        else
        {
            var elapsed = Math.Max(0, (now - state.UpdatedAt).TotalSeconds);
            // A plan change applies at once: a smaller capacity caps what is left.
            state.Tokens = Math.Min(capacity, state.Tokens + elapsed * policy.TokensPerSecond);
            if (now > state.UpdatedAt)
            {
                state.UpdatedAt = now; // a clock that steps back must not earn the same interval twice
            }
        }

        var allowed = state.Tokens >= 1;
        if (allowed)
        {
            state.Tokens -= 1;
        }

        var retryAfter = TimeSpan.Zero;
        if (!allowed)
        {
            var seconds = policy.TokensPerSecond > 0 ? Math.Ceiling((1 - state.Tokens) / policy.TokensPerSecond) : double.PositiveInfinity;
            retryAfter = TimeSpan.FromSeconds(Math.Max(1, double.IsInfinity(seconds) ? 60 : seconds));
        }

        var untilFull = policy.TokensPerSecond > 0 ? (capacity - state.Tokens) / policy.TokensPerSecond : 0;
        return new RateLimitDecision(allowed, (long)capacity, (long)Math.Floor(state.Tokens), retryAfter, FullAt(now, untilFull));
    }

    /// <summary>
    /// When a bucket <paramref name="untilFullSeconds"/> short of full at <paramref name="now"/> is full again, rounded up
    /// to a whole second: <c>X-RateLimit-Reset</c> is whole Unix seconds, and rounding the seconds to wait up while
    /// <paramref name="now"/> sits inside a second would still report a second before the bucket is full (a request at
    /// 12:00:00.5 one token short at 1 token/s is full at 12:00:01.5, so the header must say 12:00:02, not 12:00:01).
    /// </summary>
    public static DateTimeOffset FullAt(DateTimeOffset now, double untilFullSeconds)
    {
        var full = now.UtcTicks + (long)Math.Ceiling(Math.Max(0, untilFullSeconds) * TimeSpan.TicksPerSecond);
        var intoSecond = full % TimeSpan.TicksPerSecond;
        return new DateTimeOffset(intoSecond == 0 ? full : full - intoSecond + TimeSpan.TicksPerSecond, TimeSpan.Zero);
    }
}
