using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Limits;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Limits;

public sealed class QuotaCountersTests
{
    [Fact]
    public void TryConsume_MonthRollsOver_CountingStartsAgain()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 31, 23, 59, 58, TimeSpan.Zero));
        var counters = new QuotaCounters(new MemoryQuotaStore(), clock);

        var first = counters.TryConsume("u1", limit: 2, allowOverage: false);
        var second = counters.TryConsume("u1", limit: 2, allowOverage: false);
        var refused = counters.TryConsume("u1", limit: 2, allowOverage: false);
        clock.Advance(TimeSpan.FromSeconds(3)); // 2026-02-01T00:00:01Z
        var nextMonth = counters.TryConsume("u1", limit: 2, allowOverage: false);

        Assert.True(first.Allowed && second.Allowed);
        Assert.False(refused.Allowed);
        Assert.Equal(new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero), refused.ResetAt);
        Assert.True(nextMonth.Allowed);
        Assert.Equal(1, nextMonth.Used);
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), nextMonth.ResetAt);
    }

    [Fact]
    public void TryConsume_GatewayRunsForMonths_CountersOfMonthsBeforeTheLastAreLetGo()
    {
        // Arrange: 100 users call in January, February and March; the gateway keeps running.
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 15, 12, 0, 0, TimeSpan.Zero));
        var counters = new QuotaCounters(new MemoryQuotaStore(), clock);
        foreach (var month in new[] { 1, 2, 3 })
        {
            clock.SetUtcNow(new DateTimeOffset(2026, month, 15, 12, 0, 0, TimeSpan.Zero));
            for (var user = 0; user < 100; user++)
            {
                counters.TryConsume($"u{user}", limit: 0, allowOverage: false);
            }
        }

        // Act: the first request in April
        clock.SetUtcNow(new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero));
        counters.TryConsume("u0", limit: 0, allowOverage: false);

        // Assert: March (the previous month, where late settlements land) and April stay; January and February are gone
        Assert.Equal(100 + 1, counters.HeldCounters);
        Assert.Equal(1, counters.UsedIn("u7", new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.Equal(0, counters.UsedIn("u7", new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        Assert.Equal(1, counters.Used("u0"));
    }

    [Fact]
    public void Lease_MeteringBeganAfterMidnightOnThe1st_UsageIsDatedInTheMonthThatAdmittedIt()
    {
        // Arrange: admitted on the last millisecond of January; metering starts a millisecond later, in February.
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 31, 23, 59, 59, 999, TimeSpan.Zero));
        var counters = new QuotaCounters(new MemoryQuotaStore(), clock);
        var lease = new QuotaLease(counters, "u1", counters.TryConsume("u1", limit: 3, allowOverage: false));
        var february = new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero);
        var sameMonth = new DateTimeOffset(2026, 1, 31, 23, 59, 59, 999, TimeSpan.Zero).AddTicks(5);

        // Act
        var crossed = lease.RecordedAt(february.AddMilliseconds(1));
        var notCrossed = lease.RecordedAt(sameMonth);

        // Assert: dated the last tick of January (the month its unit was counted in), not February; otherwise unchanged.
        Assert.Equal(february.AddTicks(-1), crossed);
        Assert.Equal(1, crossed.Month);
        Assert.Equal(sameMonth, notCrossed);
        Assert.Equal(february, lease.Admitted.ResetAt);
    }

    [Fact]
    public void Lease_AdmittedBeforeRolloverCommittedAfter_SettlesTheMonthItWasAdmittedIn()
    {
        // Arrange: admitted on the last second of January with 1 unit, the exchange ends in February.
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 31, 23, 59, 59, TimeSpan.Zero));
        var counters = new QuotaCounters(new MemoryQuotaStore(), clock);
        var admitted = counters.TryConsume("u1", limit: 3, allowOverage: true);
        var lease = new QuotaLease(counters, "u1", admitted);
        clock.Advance(TimeSpan.FromSeconds(2));

        // Act: metered at 5 units; a second settle must change nothing.
        lease.Commit(5);
        lease.Commit(5);
        lease.Release();

        // Assert: January's counter went to 5; February's is untouched.
        Assert.True(lease.Settled);
        Assert.Equal(5, counters.UsedIn("u1", admitted.ResetAt.AddMonths(-1)));
        Assert.Equal(0, counters.Used("u1"));
    }

    [Fact]
    public void Lease_ReleasedTwice_GivesBackOneUnit()
    {
        // Arrange
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 5, 10, 12, 0, 0, TimeSpan.Zero));
        var counters = new QuotaCounters(new MemoryQuotaStore(), clock);
        counters.TryConsume("u1", limit: 0, allowOverage: false);
        var lease = new QuotaLease(counters, "u1", counters.TryConsume("u1", limit: 0, allowOverage: false));

        // Act
        lease.Release();
        lease.Release();
        lease.Commit(7);

        // Assert
        Assert.Equal(1, counters.Used("u1"));
    }

    [Fact]
    public async Task TryConsume_ManyThreads_NeverOvershootsOrDoubleCounts()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero));
        var store = new MemoryQuotaStore();
        var counters = new QuotaCounters(store, clock);
        var admitted = 0;

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                if (counters.TryConsume("u1", limit: 5000, allowOverage: false).Allowed)
                {
                    Interlocked.Increment(ref admitted);
                }
            }
        })));

        Assert.Equal(5000, admitted);
        Assert.Equal(5000, counters.Used("u1"));
        Assert.Empty(store.Rows); // the store gets quota units with the usage events, never from here
    }

    [Fact]
    public void Settle_MeteredUnits_TheNextAdmissionSeesThem()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero));
        var counters = new QuotaCounters(new MemoryQuotaStore(), clock);
        var first = counters.TryConsume("u1", limit: 10, allowOverage: true);   // used 1

        counters.Settle("u1", first, units: 8);                                  // used 8: within the quota
        var second = counters.TryConsume("u1", limit: 10, allowOverage: true);  // used 9
        counters.Settle("u1", second, units: 5);                                 // used 13
        var third = counters.TryConsume("u1", limit: 10, allowOverage: true);   // used 14, over
        counters.Settle("u1", third, units: 0);                                  // metered 0: the unit is given back

        Assert.False(second.Overage);
        Assert.True(third.Overage);
        Assert.Equal(13, counters.Used("u1"));
        Assert.False(counters.TryConsume("u1", limit: 10, allowOverage: false).Allowed);
    }

    [Fact]
    public async Task InitializeAsync_LoadsOnlyTheCurrentPeriod()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero));
        var store = new MemoryQuotaStore();
        await store.AddQuotaUsageAsync(
        [
            new QuotaUsage("u1", new DateTimeOffset(2026, 4, 1, 0, 0, 0, TimeSpan.Zero), 900, 0),
            new QuotaUsage("u1", new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero), 7, 0),
        ], CancellationToken.None);
        var counters = new QuotaCounters(store, clock);

        await counters.InitializeAsync(CancellationToken.None);

        Assert.Equal(7, counters.Used("u1"));
    }

    private sealed class MemoryQuotaStore : IQuotaStore
    {
        public List<QuotaUsage> Rows { get; } = [];

        public Task<IReadOnlyList<QuotaUsage>> LoadQuotaUsageAsync(DateTimeOffset periodStart, CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<QuotaUsage>>(Rows.Where(r => r.PeriodStart == periodStart).ToList());

        public Task<QuotaUsage> FindQuotaUsageAsync(string userId, DateTimeOffset periodStart, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task AddQuotaUsageAsync(IReadOnlyList<QuotaUsage> deltas, CancellationToken cancellationToken)
        {
            foreach (var delta in deltas)
            {
                var index = Rows.FindIndex(r => r.UserId == delta.UserId && r.PeriodStart == delta.PeriodStart);
                if (index < 0)
                {
                    Rows.Add(delta);
                }
                else
                {
                    Rows[index] = Rows[index] with { Used = Rows[index].Used + delta.Used, Overage = Rows[index].Overage + delta.Overage };
                }
            }

            return Task.CompletedTask;
        }
    }
}
