using ApiGate.Core.Quotas;
using ApiGate.Core.Usage;

namespace ApiGate.Core.Tests.Usage;

/// <summary>UsageAggregate.CountOverage: a batch's overage read off the store's counter, in the order the events were queued.</summary>
public sealed class UsageAggregateOverageTests
{
    private static readonly DateTimeOffset May = new(2026, 5, 10, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void CountOverage_OverlappingMeteredRequestsPastTheLimit_AddUpToExactlyTheUnitsPastIt()
    {
        // Arrange: 20 requests admitted together on a 10-unit quota with overage, each metered at 100 units.
        var events = Enumerable.Range(0, 20).Select(_ => Event("u1", units: 100, above: 10)).ToList();
        var aggregate = Aggregate(events);

        // Act: the store had nothing for the month; with the batch it holds 2,000.
        aggregate.CountOverage(events, (_, _) => 2_000);

        // Assert: 1,990 units past the quota — the first request's 90, then every unit of the other 19.
        Assert.Equal((2_000L, 1_990L), Single(aggregate));
    }

    [Fact]
    public void CountOverage_CounterAlreadyPastTheLimit_EveryUnitIsOverage()
    {
        var events = new List<UsageEvent> { Event("u1", units: 3, above: 10), Event("u1", units: 4, above: 10) };
        var aggregate = Aggregate(events);

        // Another instance's batches took the stored counter to 12 before this one: 12 + 7.
        aggregate.CountOverage(events, (_, _) => 19);

        Assert.Equal((7L, 7L), Single(aggregate));
    }

    [Fact]
    public void CountOverage_RequestsOnAPlanWithoutOverage_CountTowardsTheTotalButAreNotOverage()
    {
        // Arrange: 8 units on a plan without overage (above 0), then 5 on the 10-unit plan with overage.
        var events = new List<UsageEvent> { Event("u1", units: 8, above: 0), Event("u1", units: 5, above: 10) };
        var aggregate = Aggregate(events);

        // Act
        aggregate.CountOverage(events, (_, _) => 13);

        // Assert: the second request took the counter from 8 to 13, so 3 of its units are past 10.
        Assert.Equal((13L, 3L), Single(aggregate));
    }

    [Fact]
    public void CountOverage_MetersAndUsersAndMonths_AreCountedApart()
    {
        // Arrange
        var events = new List<UsageEvent>
        {
            Event("u1", units: 6, above: 5, meter: "api_overage"),        // 6 of 6: u1 stood at 5 already
            Event("u2", units: 4, above: 5, meter: "api_overage"),        // u2: 0 → 4, none past 5
            Event("u1", units: 2, above: 5, meter: "api_overage_eu"),     // 2 of 2
            Event("u2", units: 3, above: 5, meter: ""),                   // u2: 4 → 7, 2 past 5, no meter to bill
            Event(UsageEvent.Anonymous, units: 9, above: 5, meter: "x"),  // public routes have no quota
            Event("u1", units: 1, above: 1, at: May.AddMonths(1)),        // June: its own counter, 1 → 2
        };
        var aggregate = Aggregate(events);
        var june = QuotaPeriod.StartOf(May.AddMonths(1));

        // Act
        aggregate.CountOverage(events, (user, period) => (user, period == june) switch
        {
            ("u1", false) => 13,
            ("u2", false) => 7,
            ("u1", true) => 2,
            _ => throw new InvalidOperationException($"no counter asked for {user} {period}"),
        });

        // Assert
        var quota = aggregate.Quota.ToDictionary(q => (q.UserId, q.PeriodStart == june), q => (q.Used, q.Overage));
        Assert.Equal((8L, 8L), quota[("u1", false)]);
        Assert.Equal((7L, 2L), quota[("u2", false)]);
        Assert.Equal((1L, 1L), quota[("u1", true)]);
        Assert.Equal(3, quota.Count);
        var billed = aggregate.BilledOverage.OrderBy(b => b.Meter, StringComparer.Ordinal).Select(b => (b.UserId, b.Meter, b.Units));
        Assert.Equal([("u1", "api_overage", 6L), ("u1", "api_overage_eu", 2L)], billed);
    }

    [Fact]
    public void CountsOverage_OnlyWhenAnEventCanBeBilledAsOverage()
    {
        Assert.False(Aggregate([Event("u1", units: 5, above: 0), Event(UsageEvent.Anonymous, units: 1, above: 3)]).CountsOverage);
        Assert.True(Aggregate([Event("u1", units: 5, above: 0), Event("u1", units: 1, above: 3)]).CountsOverage);
    }

    private static UsageAggregate Aggregate(IReadOnlyList<UsageEvent> events)
    {
        var aggregate = new UsageAggregate();
        aggregate.AddRange(events);
        return aggregate;
    }

    private static (long Used, long Overage) Single(UsageAggregate aggregate)
    {
        var quota = Assert.Single(aggregate.Quota);
        return (quota.Used, quota.Overage);
    }

    private static UsageEvent Event(string user, long units, long above, string meter = "", DateTimeOffset? at = null) => new()
    {
        UserId = user, KeyId = "key_1", RouteId = "rte_1", UpstreamId = "ups_1", Method = "GET", Path = "/x", Status = 200,
        Units = units, OverageAbove = above, OverageMeter = meter, ClientIp = "127.0.0.1", RequestId = "req", Timestamp = at ?? May,
    };
}
