using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>SPEC §8: usage events in every store (SQLite, PostgreSQL) — every field kept, periods half-open, months in UTC.</summary>
public sealed class UsageStoreTests(StoreEngines engines) : IClassFixture<StoreEngines>
{

    internal static UsageEvent Event(string userId, DateTimeOffset at, long units = 1, int status = 200, string path = "/items") => new()
    {
        UserId = userId,
        KeyId = "key_1",
        RouteId = "rte_1",
        UpstreamId = "ups_1",
        Method = "GET",
        Path = path,
        Status = status,
        LatencyMs = 12.5,
        RequestBytes = 100,
        ResponseBytes = 2048,
        Units = units,
        ClientIp = "127.0.0.1",
        RequestId = "req-" + at.UtcTicks,
        Timestamp = at,
    };

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddUsageEventsAsync_ThenGetRecent_RoundTripsEveryField(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        // Arrange
        var stored = Event("usr_1", new DateTimeOffset(2026, 5, 10, 8, 30, 15, 123, TimeSpan.FromHours(2))) with
        {
            KeyId = UsageEvent.Anonymous,
            Method = "POST",
            Status = 503,
            LatencyMs = 0.25,
            RequestBytes = 7,
            ResponseBytes = 9_000_000_000,
            Units = 42,
            ClientIp = "::1",
        };

        // Act
        await store.AddUsageEventsAsync([stored], CancellationToken.None);
        var read = await store.GetRecentUsageAsync("usr_1", 10, CancellationToken.None);

        // Assert
        var e = Assert.Single(read);
        Assert.Equal(stored, e);
        Assert.Equal(TimeSpan.Zero, e.Timestamp.Offset);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task GetUsageSummaryAsync_PeriodIsHalfOpen_CountsOnlyEventsInside(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        // Arrange
        var start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);
        var end = start.AddMonths(1);
        await store.AddUsageEventsAsync(
        [
            Event("usr_1", start.AddTicks(-1), units: 1000),
            Event("usr_1", start, units: 3),
            Event("usr_1", start.AddDays(10), units: 4, status: 500),
            Event("usr_1", start.AddDays(11), units: 5, status: 404),
            Event("usr_1", end.AddTicks(-1), units: 6, status: 502),
            Event("usr_1", end, units: 2000),
            Event("usr_2", start.AddDays(3), units: 3000),
        ], CancellationToken.None);

        // Act
        var summary = await store.GetUsageSummaryAsync("usr_1", start, end, CancellationToken.None);

        // Assert
        Assert.Equal(new UsageSummary(start, end, Requests: 4, Units: 18, RequestBytes: 400, ResponseBytes: 4 * 2048, Errors: 2), summary);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task GetUsageSummaryAsync_TimestampsWithOffsets_ComparedAsUtc(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        // Arrange: 01:30 at +02:00 is 23:30 UTC on the previous day, in April
        var start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);
        await store.AddUsageEventsAsync(
        [
            Event("usr_1", new DateTimeOffset(2026, 5, 1, 1, 30, 0, TimeSpan.FromHours(2)), units: 7),
            Event("usr_1", new DateTimeOffset(2026, 4, 30, 23, 30, 0, TimeSpan.FromHours(-5)), units: 11),
        ], CancellationToken.None);

        // Act
        var may = await store.GetUsageSummaryAsync("usr_1", start, start.AddMonths(1), CancellationToken.None);
        var april = await store.GetUsageSummaryAsync("usr_1", start.AddMonths(-1), start, CancellationToken.None);

        // Assert
        Assert.Equal(11, may.Units);
        Assert.Equal(7, april.Units);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task GetUsageSummaryAsync_NoEvents_ReturnsZeros(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        // Arrange
        var start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);

        // Act
        var summary = await store.GetUsageSummaryAsync("usr_none", start, start.AddMonths(1), CancellationToken.None);

        // Assert
        Assert.Equal(new UsageSummary(start, start.AddMonths(1), 0, 0, 0, 0, 0), summary);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task GetUsageHistoryAsync_SomeMonthsEmpty_ReturnsEveryMonthNewestFirst(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        // Arrange
        var now = new DateTimeOffset(2026, 3, 15, 12, 0, 0, TimeSpan.Zero);
        await store.AddUsageEventsAsync(
        [
            Event("usr_1", new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), units: 2),
            Event("usr_1", new DateTimeOffset(2026, 3, 20, 0, 0, 0, TimeSpan.Zero), units: 3),
            Event("usr_1", new DateTimeOffset(2026, 1, 31, 23, 59, 59, TimeSpan.Zero), units: 5, status: 500),
            Event("usr_1", new DateTimeOffset(2025, 12, 31, 0, 0, 0, TimeSpan.Zero), units: 7),
            Event("usr_1", new DateTimeOffset(2025, 11, 30, 0, 0, 0, TimeSpan.Zero), units: 1000),
            Event("usr_2", new DateTimeOffset(2026, 2, 2, 0, 0, 0, TimeSpan.Zero), units: 2000),
        ], CancellationToken.None);

        // Act
        var history = await store.GetUsageHistoryAsync("usr_1", 4, now, CancellationToken.None);

        // Assert
        Assert.Equal(
        [
            (new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), 2L, 5L, 0L),
            (new DateTimeOffset(2026, 2, 1, 0, 0, 0, TimeSpan.Zero), 0L, 0L, 0L),
            (new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero), 1L, 5L, 1L),
            (new DateTimeOffset(2025, 12, 1, 0, 0, 0, TimeSpan.Zero), 1L, 7L, 0L),
        ], history.Select(m => (m.PeriodStart, m.Requests, m.Units, m.Errors)));
        Assert.All(history, m => Assert.Equal(m.PeriodStart.AddMonths(1), m.PeriodEnd));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task GetRecentUsageAsync_Limit_ReturnsNewestFirst(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        // Arrange
        var t = new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);
        await store.AddUsageEventsAsync(
        [
            Event("usr_1", t.AddSeconds(1), path: "/b"),
            Event("usr_1", t.AddSeconds(3), path: "/d"),
            Event("usr_1", t, path: "/a"),
            Event("usr_2", t.AddSeconds(9), path: "/other"),
            Event("usr_1", t.AddSeconds(2), path: "/c"),
        ], CancellationToken.None);

        // Act
        var recent = await store.GetRecentUsageAsync("usr_1", 3, CancellationToken.None);

        // Assert
        Assert.Equal(["/d", "/c", "/b"], recent.Select(e => e.Path));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddUsageEventsAsync_OneEventFails_StoresNoneOfTheBatch(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        // Arrange: a null column violates NOT NULL halfway through the batch
        var t = new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);
        var bad = Event("usr_1", t.AddSeconds(1)) with { Path = null! };

        // Act
        var failure = await Record.ExceptionAsync(() => store.AddUsageEventsAsync([Event("usr_1", t), bad, Event("usr_1", t.AddSeconds(2))], CancellationToken.None));
        var summary = await store.GetUsageSummaryAsync("usr_1", t.AddDays(-1), t.AddDays(1), CancellationToken.None);

        // Assert
        Assert.NotNull(failure);
        Assert.Equal(0, summary.Requests);
    }
}
