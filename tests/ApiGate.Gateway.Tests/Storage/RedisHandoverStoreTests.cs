using ApiGate.Core.Quotas;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// The quota units a gateway stopped during a Redis outage hands to the store (migration 23), on each engine: summed per
/// data set, user and period, taken once by one instance, kept for their own data set, forgotten once their period's
/// Redis counter has expired.
/// </summary>
public sealed class RedisHandoverStoreTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset December = new(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task TakeRedisUnits_HandedOverByTwoInstances_SummedTakenOnceOtherDataSetKeptExpiredForgotten(string engine)
    {
        // Arrange: two instances' units for data set "one" (one of them given back: closed mode), another data set's, and
        // units of a period whose Redis counter has expired
        var store = (await engines.CreateAsync(engine)).Store;
        var november = December.AddMonths(-1);
        var september = December.AddMonths(-3);
        await store.HandOverRedisUnitsAsync("one", [new("usr_a", December, 5, 0), new("usr_b", December, -1, 0), new("usr_a", november, 2, 0), new("usr_c", september, 9, 0)], None);
        await store.HandOverRedisUnitsAsync("one", [new("usr_a", December, 3, 0)], None);
        await store.HandOverRedisUnitsAsync("two", [new("usr_a", December, 100, 0), new("usr_d", september, 4, 0)], None);

        // Act
        var taken = await store.TakeRedisUnitsAsync("one", november, None);
        var again = await store.TakeRedisUnitsAsync("one", november, None);
        var other = await store.TakeRedisUnitsAsync("two", september, None);

        // Assert
        Assert.Equal(
            [("usr_a", november, 2L), ("usr_a", December, 8L), ("usr_b", December, -1L)],
            taken.Select(u => (u.UserId, u.PeriodStart, u.Used)).OrderBy(u => u.UserId, StringComparer.Ordinal).ThenBy(u => u.PeriodStart));
        Assert.Empty(again);
        Assert.Equal([("usr_a", 100L)], other.Select(u => (u.UserId, u.Used))); // usr_d's September went with the first take
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task TakeRedisUnits_ManyInstancesAtOnce_EveryUnitTakenExactlyOnce(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var handed = Enumerable.Range(0, 50).Select(i => new QuotaUsage($"usr_{i:D3}", December, i + 1, 0)).ToList();
        await store.HandOverRedisUnitsAsync("one", handed, None);

        // Act: eight takes at the same moment
        using var start = new ManualResetEventSlim();
        var takes = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            return await store.TakeRedisUnitsAsync("one", December.AddMonths(-1), None);
        })).ToList();
        start.Set();
        var taken = (await Task.WhenAll(takes)).SelectMany(t => t).ToList();

        // Assert
        Assert.Equal(handed.Select(u => (u.UserId, u.Used)), taken.Select(u => (u.UserId, u.Used)).OrderBy(u => u.UserId, StringComparer.Ordinal));
    }
}
