using ApiGate.Core.RateLimiting;

namespace ApiGate.Core.Tests.RateLimiting;

/// <summary>TokenBucket.TryTake and TokenBucketPolicy.FromPlan (SPEC §4.1), driven by explicit clock readings.</summary>
public sealed class TokenBucketTests
{
    private static readonly DateTimeOffset T0 = new(2026, 3, 15, 12, 0, 0, TimeSpan.Zero);

    /// <summary>Takes <paramref name="count"/> tokens at <paramref name="now"/>, returning how many were allowed.</summary>
    private static int TakeMany(ref TokenBucketState state, TokenBucketPolicy policy, DateTimeOffset now, int count)
    {
        var allowed = 0;
        for (var i = 0; i < count; i++)
        {
            if (TokenBucket.TryTake(ref state, policy, now).Allowed)
            {
                allowed++;
            }
        }

        return allowed;
    }

    /// <summary>A bucket emptied at <paramref name="now"/> (every one of its tokens taken).</summary>
    private static TokenBucketState Drained(TokenBucketPolicy policy, DateTimeOffset now)
    {
        var state = default(TokenBucketState);
        var allowed = TakeMany(ref state, policy, now, (int)policy.Capacity);
        Assert.Equal((int)policy.Capacity, allowed);
        return state;
    }

    [Theory]
    [InlineData(60, 5, 1.0, 65)]
    [InlineData(120, 0, 2.0, 120)]
    [InlineData(6, 5, 0.1, 11)]
    [InlineData(600, 10, 10.0, 610)]
    public void FromPlan_RateAndBurst_RefillsRateOver60AndHoldsRatePlusBurst(int ratePerMinute, int burst, double expectedPerSecond, double expectedCapacity)
    {
        // Act
        var policy = TokenBucketPolicy.FromPlan(ratePerMinute, burst);

        // Assert
        Assert.Equal(expectedPerSecond, policy.TokensPerSecond, 12);
        Assert.Equal(expectedCapacity, policy.Capacity);
    }

    [Theory]
    [InlineData(int.MaxValue, 5, 2_147_483_652d)]
    [InlineData(60, int.MaxValue, 2_147_483_707d)]
    public void FromPlan_LargestRateOrBurst_CapacityIsTheirSumNotAWrappedNegative(int ratePerMinute, int burst, double expectedCapacity)
    {
        // Act
        var policy = TokenBucketPolicy.FromPlan(ratePerMinute, burst);
        var state = default(TokenBucketState);
        var first = TokenBucket.TryTake(ref state, policy, T0);

        // Assert
        Assert.Equal(expectedCapacity, policy.Capacity);
        Assert.True(first.Allowed);
    }

    [Fact]
    public void FromPlan_NegativeBurst_TreatedAsZero()
    {
        // Act
        var policy = TokenBucketPolicy.FromPlan(60, -5);

        // Assert
        Assert.Equal(60, policy.Capacity);
    }

    [Theory]
    [InlineData(60, 5)]
    [InlineData(1, 0)]
    [InlineData(6, 5)]
    [InlineData(120, 0)]
    [InlineData(1000, 5)]
    public void TryTake_FreshBucketAtOneInstant_AdmitsExactlyCapacityThenRefuses(int ratePerMinute, int burst)
    {
        // Arrange
        var policy = TokenBucketPolicy.FromPlan(ratePerMinute, burst);
        var state = default(TokenBucketState);
        var capacity = ratePerMinute + burst;

        // Act
        var allowed = TakeMany(ref state, policy, T0, capacity);
        var next = TokenBucket.TryTake(ref state, policy, T0);

        // Assert
        Assert.Equal(capacity, allowed);
        Assert.False(next.Allowed);
        Assert.Equal(0, next.Remaining);
        Assert.Equal(capacity, next.Limit);
    }

    [Fact]
    public void TryTake_FirstRequest_ReportsLimitRemainingAndResetAt()
    {
        // Arrange
        var policy = TokenBucketPolicy.FromPlan(60, 5);
        var state = default(TokenBucketState);

        // Act
        var decision = TokenBucket.TryTake(ref state, policy, T0);

        // Assert
        Assert.True(decision.Allowed);
        Assert.Equal(65, decision.Limit);
        Assert.Equal(64, decision.Remaining);
        Assert.Equal(TimeSpan.Zero, decision.RetryAfter);
        Assert.Equal(T0.AddSeconds(1), decision.ResetAt); // one token short of full at 1 token/s
        Assert.True(state.Started);
        Assert.Equal(T0, state.UpdatedAt);
    }

    [Theory]
    [InlineData(60, 5, 1)]   // 1 token/s
    [InlineData(6, 5, 10)]   // 0.1 token/s
    [InlineData(120, 5, 1)]  // 2 tokens/s: 0.5 s rounds up to 1
    [InlineData(7, 0, 9)]    // 60/7 = 8.57 s rounds up to 9
    [InlineData(1, 0, 60)]
    [InlineData(6000, 0, 1)] // 0.01 s rounds up to the minimum of 1
    public void TryTake_EmptyBucket_RetryAfterIsWholeSecondsUntilOneToken(int ratePerMinute, int burst, int expectedSeconds)
    {
        // Arrange
        var policy = TokenBucketPolicy.FromPlan(ratePerMinute, burst);
        var state = Drained(policy, T0);

        // Act
        var decision = TokenBucket.TryTake(ref state, policy, T0);

        // Assert
        Assert.False(decision.Allowed);
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), decision.RetryAfter);
    }

    [Theory]
    [InlineData(60, 300, 1)]  // 0.3 token back, 0.7 s to go → 1
    [InlineData(6, 4000, 6)]  // 0.4 token back, 6 s to go
    [InlineData(6, 9500, 1)]  // 0.95 token back, 0.5 s to go → 1
    public void TryTake_PartlyRefilled_RetryAfterCountsOnlyTheMissingFraction(int ratePerMinute, int elapsedMs, int expectedSeconds)
    {
        // Arrange
        var policy = TokenBucketPolicy.FromPlan(ratePerMinute, 0);
        var state = Drained(policy, T0);

        // Act
        var decision = TokenBucket.TryTake(ref state, policy, T0.AddMilliseconds(elapsedMs));

        // Assert
        Assert.False(decision.Allowed);
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), decision.RetryAfter);
    }

    [Theory]
    [InlineData(60)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(13)]
    [InlineData(1)]
    public void TryTake_AfterWaitingRetryAfter_IsAllowed(int ratePerMinute)
    {
        // Arrange
        var policy = TokenBucketPolicy.FromPlan(ratePerMinute, 5);
        var state = Drained(policy, T0);
        var refused = TokenBucket.TryTake(ref state, policy, T0);

        // Act
        var retried = TokenBucket.TryTake(ref state, policy, T0 + refused.RetryAfter);

        // Assert
        Assert.False(refused.Allowed);
        Assert.True(retried.Allowed);
    }

    [Fact]
    public void TryTake_HalfSecondAt120PerMinute_RefillsExactlyOneToken()
    {
        // Arrange
        var policy = TokenBucketPolicy.FromPlan(120, 5);
        var state = Drained(policy, T0);
        var later = T0.AddMilliseconds(500);

        // Act
        var first = TokenBucket.TryTake(ref state, policy, later);
        var second = TokenBucket.TryTake(ref state, policy, later);

        // Assert
        Assert.True(first.Allowed);
        Assert.False(second.Allowed);
    }

    [Fact]
    public void TryTake_RefillSpreadOverSeveralReadings_AccumulatesFractions()
    {
        // Arrange: 2 tokens/s, so each 250 ms step adds half a token
        var policy = TokenBucketPolicy.FromPlan(120, 0);
        var state = Drained(policy, T0);

        // Act
        var atQuarter = TokenBucket.TryTake(ref state, policy, T0.AddMilliseconds(250));
        var atHalf = TokenBucket.TryTake(ref state, policy, T0.AddMilliseconds(500));

        // Assert
        Assert.False(atQuarter.Allowed);
        Assert.True(atHalf.Allowed);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(60)]
    [InlineData(86_400)]
    [InlineData(31_536_000)]
    public void TryTake_LongIdle_RefillsNoMoreThanCapacity(int idleSeconds)
    {
        // Arrange
        var policy = TokenBucketPolicy.FromPlan(60, 5);
        var state = Drained(policy, T0);
        var later = T0.AddSeconds(65 + idleSeconds);

        // Act
        var first = TokenBucket.TryTake(ref state, policy, later);
        var allowed = 1 + TakeMany(ref state, policy, later, 100);

        // Assert
        Assert.Equal(64, first.Remaining);
        Assert.Equal(65, allowed);
    }

    [Fact]
    public void TryTake_PlanChangedToSmallerCapacity_CapsStoredTokensOnNextTake()
    {
        // Arrange: 65-token bucket, one token taken
        var oldPolicy = TokenBucketPolicy.FromPlan(60, 5);
        var newPolicy = TokenBucketPolicy.FromPlan(10, 5);
        var state = default(TokenBucketState);
        TokenBucket.TryTake(ref state, oldPolicy, T0);

        // Act
        var decision = TokenBucket.TryTake(ref state, newPolicy, T0);
        var allowedAfter = TakeMany(ref state, newPolicy, T0, 100);

        // Assert
        Assert.True(decision.Allowed);
        Assert.Equal(15, decision.Limit);
        Assert.Equal(14, decision.Remaining);
        Assert.Equal(14, allowedAfter);
    }

    [Fact]
    public void TryTake_PlanChangedToLargerCapacity_DoesNotGrantTheDifferenceAtOnce()
    {
        // Arrange: a drained 15-token bucket
        var oldPolicy = TokenBucketPolicy.FromPlan(10, 5);
        var newPolicy = TokenBucketPolicy.FromPlan(600, 5);
        var state = Drained(oldPolicy, T0);

        // Act: 1 s later at the new rate of 10 tokens/s
        var decision = TokenBucket.TryTake(ref state, newPolicy, T0.AddSeconds(1));

        // Assert
        Assert.True(decision.Allowed);
        Assert.Equal(605, decision.Limit);
        Assert.Equal(9, decision.Remaining);
    }

    [Theory]
    [InlineData(60, 5, 0, 64, 1)]      // full bucket less one token at 1/s
    [InlineData(60, 5, 10, 54, 11)]    // 11 short
    [InlineData(6, 5, 3, 7, 40)]       // 4 short at 0.1/s
    [InlineData(120, 0, 2, 117, 2)]    // 3 short at 2/s = 1.5 s, rounded up
    public void TryTake_AfterSeveralTakes_ReportsRemainingAndResetAtRoundedUp(int ratePerMinute, int burst, int priorTakes, long expectedRemaining, int expectedResetSeconds)
    {
        // Arrange
        var policy = TokenBucketPolicy.FromPlan(ratePerMinute, burst);
        var state = default(TokenBucketState);
        TakeMany(ref state, policy, T0, priorTakes);

        // Act
        var decision = TokenBucket.TryTake(ref state, policy, T0);

        // Assert
        Assert.True(decision.Allowed);
        Assert.Equal(expectedRemaining, decision.Remaining);
        Assert.Equal(T0.AddSeconds(expectedResetSeconds), decision.ResetAt);
    }

    [Fact]
    public void TryTake_FractionalTokensLeft_RemainingRoundsDown()
    {
        // Arrange: 60/min burst 0, drained, then 2.5 s → 2.5 tokens, one taken → 1.5
        var policy = TokenBucketPolicy.FromPlan(60, 0);
        var state = Drained(policy, T0);
        var now = T0.AddMilliseconds(2500);

        // Act
        var decision = TokenBucket.TryTake(ref state, policy, now);

        // Assert
        Assert.True(decision.Allowed);
        Assert.Equal(1, decision.Remaining);
        Assert.Equal(T0.AddSeconds(61), decision.ResetAt); // 58.5 s to full from T0 + 2.5 s: full at T0 + 61 s exactly
    }

    [Theory]
    [InlineData(500, 2)]  // 12:00:00.5, one token short at 1/s: full at 12:00:01.5, first whole second full 12:00:02
    [InlineData(1, 2)]    // full at 12:00:01.001
    [InlineData(0, 1)]    // full at 12:00:01 exactly
    public void TryTake_NowInsideASecond_ResetAtIsTheFirstWholeSecondTheBucketIsFull(int milliseconds, int expectedResetSeconds)
    {
        // Arrange: 60/min, burst 0, full; X-RateLimit-Reset is whole Unix seconds, so ResetAt must be one
        var policy = TokenBucketPolicy.FromPlan(60, 0);
        var state = default(TokenBucketState);
        var now = T0.AddMilliseconds(milliseconds);

        // Act
        var decision = TokenBucket.TryTake(ref state, policy, now);

        // Assert
        Assert.Equal(T0.AddSeconds(expectedResetSeconds), decision.ResetAt);
        Assert.True(decision.ResetAt >= now.AddSeconds(1));
    }

    [Fact]
    public void TryTake_Refused_ResetAtIsTimeUntilFull()
    {
        // Arrange
        var policy = TokenBucketPolicy.FromPlan(6, 5);
        var state = Drained(policy, T0);

        // Act
        var decision = TokenBucket.TryTake(ref state, policy, T0);

        // Assert: 11 tokens at 0.1/s
        Assert.False(decision.Allowed);
        Assert.Equal(T0.AddSeconds(110), decision.ResetAt);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(3600)]
    public void TryTake_ClockGoesBackwards_AddsNoTokens(int skewSeconds)
    {
        // Arrange
        var policy = TokenBucketPolicy.FromPlan(60, 5);
        var state = Drained(policy, T0);

        // Act
        var decision = TokenBucket.TryTake(ref state, policy, T0.AddSeconds(-skewSeconds));

        // Assert
        Assert.False(decision.Allowed);
        Assert.Equal(0, decision.Remaining);
        Assert.Equal(0, state.Tokens);
        Assert.Equal(TimeSpan.FromSeconds(1), decision.RetryAfter);
    }

    [Fact]
    public void TryTake_ClockGoesBackwardsThenReturns_DoesNotRecreditTheSameInterval()
    {
        // Arrange
        var policy = TokenBucketPolicy.FromPlan(60, 5);
        var state = Drained(policy, T0);
        TokenBucket.TryTake(ref state, policy, T0.AddSeconds(-10));

        // Act: back at T0, no time has passed beyond what the bucket already accounted for
        var decision = TokenBucket.TryTake(ref state, policy, T0);

        // Assert
        Assert.False(decision.Allowed);
        Assert.Equal(0, decision.Remaining);
    }
}
