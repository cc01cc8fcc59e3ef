using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Limits;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Limits;

/// <summary>
/// Seeds of Redis counters from the store: a store that hangs holds a request at most <see cref="QuotaSeeds.MaxWait"/>,
/// gets one query at a time, and answers the waiting seeds once it is back.
/// </summary>
public sealed class QuotaSeedsTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 1, 9, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Period = QuotaPeriod.StartOf(Start);

    [Fact]
    public async Task StoreHangs_TheFirstSeedWaitsAtMostMaxWait_LaterOnesFailAtOnce_OneQueryInAll()
    {
        // Arrange
        var clock = new FakeTimeProvider(Start);
        var store = new HangingStore();
        var seeds = new QuotaSeeds(store, clock);

        // Act: the first request waits for the load until the bound.
        var first = seeds.GetAsync("usr_1", Period, CancellationToken.None);
        Assert.False(first.IsCompleted);
        clock.Advance(QuotaSeeds.MaxWait);
        var firstError = await Assert.ThrowsAsync<QuotaSeedUnavailableException>(() => first);

        // The load is still pending: the next requests do not wait for it again, nor start another.
        var later = seeds.GetAsync("usr_2", Period, CancellationToken.None);
        var laterError = await Assert.ThrowsAsync<QuotaSeedUnavailableException>(() => later);
        clock.Advance(QuotaSeeds.MaxAge * 3);
        await Assert.ThrowsAsync<QuotaSeedUnavailableException>(() => seeds.GetAsync("usr_3", Period, CancellationToken.None));

        // Assert
        Assert.Equal("the store did not answer within 500 ms", firstError.Message);
        Assert.Equal(firstError.Message, laterError.Message);
        Assert.Equal(1, store.Loads);

        // Once it answers, that load is older than MaxAge: one new load serves the seeds.
        store.Answer([new QuotaUsage("usr_1", Period, 40, 0)]);
        Assert.Equal(40, await seeds.GetAsync("usr_1", Period, CancellationToken.None));
        Assert.Equal(0, await seeds.GetAsync("usr_2", Period, CancellationToken.None));
        Assert.Equal(2, store.Loads);
    }

    [Fact]
    public async Task StoreFails_NotAskedAgainWithinMaxAge_ThenAskedAgain()
    {
        // Arrange
        var clock = new FakeTimeProvider(Start);
        var store = new HangingStore();
        var seeds = new QuotaSeeds(store, clock);
        var first = seeds.GetAsync("usr_1", Period, CancellationToken.None);
        store.Fail(new InvalidOperationException("connection refused"));

        // Act
        var error = await Assert.ThrowsAsync<QuotaSeedUnavailableException>(() => first);
        await Assert.ThrowsAsync<QuotaSeedUnavailableException>(() => seeds.GetAsync("usr_1", Period, CancellationToken.None));
        var loadsWithinMaxAge = store.Loads;
        clock.Advance(QuotaSeeds.MaxAge + TimeSpan.FromMilliseconds(1));
        var retry = seeds.GetAsync("usr_1", Period, CancellationToken.None);
        store.Answer([new QuotaUsage("usr_1", Period, 7, 0)]);

        // Assert
        Assert.Equal("the store failed: connection refused", error.Message);
        Assert.Equal(1, loadsWithinMaxAge);
        Assert.Equal(7, await retry);
        Assert.Equal(2, store.Loads);
    }

    /// <summary>A quota store whose loads wait until the test answers (then every load gets that answer) or fails them.</summary>
    private sealed class HangingStore : IQuotaStore
    {
        // Continuations run inside Answer/Fail, so the seeds' load has completed when they return.
        private TaskCompletionSource<IReadOnlyList<QuotaUsage>> _pending = new();
        private IReadOnlyList<QuotaUsage>? _answer;

        public int Loads { get; private set; }

        public Task<IReadOnlyList<QuotaUsage>> LoadQuotaUsageAsync(DateTimeOffset periodStart, CancellationToken cancellationToken)
        {
            Loads++;
            return _answer is { } rows ? Task.FromResult(rows) : _pending.Task;
        }

        public Task<QuotaUsage> FindQuotaUsageAsync(string userId, DateTimeOffset periodStart, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task AddQuotaUsageAsync(IReadOnlyList<QuotaUsage> deltas, CancellationToken cancellationToken) => Task.CompletedTask;

        public void Answer(IReadOnlyList<QuotaUsage> rows)
        {
            _answer = rows;
            _pending.TrySetResult(rows);
        }

        public void Fail(Exception exception)
        {
            var failed = _pending;
            _pending = new();
            failed.SetException(exception);
        }
    }
}
