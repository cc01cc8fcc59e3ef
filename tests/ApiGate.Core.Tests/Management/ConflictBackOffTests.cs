using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Core.Tests.Management;

/// <summary>ConflictBackOff: the random wait between attempts of an update that lost a race for its row.</summary>
public sealed class ConflictBackOffTests
{
    [Theory]
    [InlineData(2, 4)]
    [InlineData(3, 8)]
    [InlineData(4, 16)]
    [InlineData(5, 32)]
    [InlineData(6, 64)]
    [InlineData(7, 128)]
    [InlineData(12, 128)]
    public void BoundBefore_Attempt_DoublesFrom4MillisecondsUpTo128(int attempt, int milliseconds)
    {
        // Act
        var bound = ConflictBackOff.BoundBefore(attempt);

        // Assert
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), bound);
    }

    [Fact]
    public void BoundBefore_EveryAttempt_AddsUpTo892Milliseconds()
    {
        // Act
        var total = Enumerable.Range(2, ConflictBackOff.Attempts - 1).Aggregate(TimeSpan.Zero, (sum, attempt) => sum + ConflictBackOff.BoundBefore(attempt));

        // Assert
        Assert.Equal((12, TimeSpan.FromMilliseconds(892)), (ConflictBackOff.Attempts, total));
    }

    [Fact]
    public async Task RetryWhenChangedAsync_RowChangedMeanwhile_ReadsAgainOnlyAfterTheRandomShareOfTheBound()
    {
        // Arrange: the first attempt loses the race; the random source picks half of the 4 ms bound
        var clock = new FakeTimeProvider();
        var attempts = 0;
        Task<ManagementResult<string>> Attempt() => ++attempts == 1
            ? throw new StoreChangedMeanwhileException("the route 'users' was changed by another request at the same time")
            : Task.FromResult<ManagementResult<string>>("stored");

        // Act
        var retry = Outcomes.RetryWhenChangedAsync(Attempt, new ConflictBackOff(clock, () => 0.5), CancellationToken.None);
        var beforeTheWait = (attempts, retry.IsCompleted);
        clock.Advance(TimeSpan.FromMilliseconds(2) - TimeSpan.FromTicks(1));
        var justBeforeItEnds = (attempts, retry.IsCompleted);
        clock.Advance(TimeSpan.FromTicks(1));
        var result = await retry.WaitAsync(TimeSpan.FromSeconds(10));

        // Assert
        Assert.Equal((1, false), beforeTheWait);
        Assert.Equal((1, false), justBeforeItEnds);
        Assert.Equal((2, "stored"), (attempts, result.Value));
    }
}
