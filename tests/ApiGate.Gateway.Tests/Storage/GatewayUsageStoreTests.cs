using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>The gateway-wide usage reads of the admin console's dashboard, on every engine.</summary>
public sealed class GatewayUsageStoreTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly DateTimeOffset Minute = new(2026, 5, 10, 8, 30, 0, TimeSpan.Zero);

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task GetGatewayUsageSeriesAsync_SeveralUsers_SummedPerBucketAndStatusClass(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        await store.AddUsageEventsAsync(
        [
            UsageStoreTests.Event("usr_1", Minute.AddSeconds(5)),
            UsageStoreTests.Event("usr_2", Minute.AddSeconds(40), units: 3),
            UsageStoreTests.Event("usr_2", Minute.AddSeconds(50), status: 503),
            UsageStoreTests.Event("usr_1", Minute.AddMinutes(1)),
            UsageStoreTests.Event("usr_1", Minute.AddMinutes(2)), // outside [from, to)
        ], CancellationToken.None);

        var series = await store.GetGatewayUsageSeriesAsync(UsageGranularity.Minute, Minute, Minute.AddMinutes(2), CancellationToken.None);

        Assert.Equal(
            [(Minute, 2, 2L, 4L), (Minute, 5, 1L, 1L), (Minute.AddMinutes(1), 2, 1L, 1L)],
            series.Select(r => (r.BucketStart, r.StatusClass, r.Requests, r.Units)).ToList());
        Assert.All(series, r => Assert.Equal("", r.UserId));
        Assert.Equal(2, series[0].LatencyBuckets.Sum());
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Rollups_ErrorAnswers_KeptApartByCodeThroughCompactionWhileSuccessesStayOneRowPerClass(string engine)
    {
        // Arrange: successes of two codes, and errors of four
        var store = (await engines.CreateAsync(engine)).Store;
        var statuses = new[] { 200, 201, 204, 401, 401, 429, 502, 503, 503 };
        await store.AddUsageEventsAsync([.. statuses.Select((status, i) => UsageStoreTests.Event("usr_1", Minute.AddSeconds(i), status: status))], CancellationToken.None);

        // Act
        var minutes = await store.GetGatewayUsageSeriesAsync(UsageGranularity.Minute, Minute, Minute.AddMinutes(1), CancellationToken.None);
        var compacted = await store.CompactUsageAsync(UsageGranularity.Hour, Minute.AddHours(2), 10, CancellationToken.None);
        var hours = await store.GetGatewayUsageSeriesAsync(UsageGranularity.Hour, Minute.AddHours(-1), Minute.AddHours(1), CancellationToken.None);
        var summary = await store.GetUsageSummaryAsync("usr_1", Minute.AddHours(-1), Minute.AddHours(1), CancellationToken.None);

        // Assert
        (int, int?, long)[] expected = [(2, null, 3), (4, 401, 2), (4, 429, 1), (5, 502, 1), (5, 503, 2)];
        Assert.Equal(expected, minutes.Select(r => (r.StatusClass, r.ErrorCode, r.Requests)));
        Assert.True(compacted > 0);
        Assert.Equal(expected, hours.Select(r => (r.StatusClass, r.ErrorCode, r.Requests)));
        Assert.Equal((9L, 3L), (summary.Requests, summary.Errors)); // errors are the 5xx answers, as before
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task GetUsageLeadersAsync_ByUser_LargestUnitsFirstWithinPeriodAndLimit(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        var month = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);
        await store.AddUsageEventsAsync(
        [
            UsageStoreTests.Event("usr_1", month.AddDays(1), units: 5),
            UsageStoreTests.Event("usr_2", month.AddDays(2), units: 7, status: 500),
            UsageStoreTests.Event("usr_3", month.AddDays(3), units: 1),
            UsageStoreTests.Event("usr_1", month.AddDays(4), units: 4),
            UsageStoreTests.Event("usr_3", month.AddTicks(-1), units: 100), // the month before
        ], CancellationToken.None);

        var leaders = await store.GetUsageLeadersAsync(UsageDimension.User, month, month.AddMonths(1), 2, CancellationToken.None);
        var routes = await store.GetUsageLeadersAsync(UsageDimension.Route, month, month.AddMonths(1), 10, CancellationToken.None);

        Assert.Equal([new UsageLeader("usr_1", 2, 9, 0), new UsageLeader("usr_2", 1, 7, 1)], leaders);
        Assert.Equal([new UsageLeader("rte_1", 4, 17, 1)], routes);
    }
}
