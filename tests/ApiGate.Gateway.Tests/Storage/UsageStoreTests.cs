using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage.Sqlite;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>The usage store suite on SQLite (the PostgreSQL store derives its own class from <see cref="UsageStoreTests"/>).</summary>
public sealed class SqliteUsageStoreTests : UsageStoreTests
{
    private TempStore? _temp;

    private protected override async Task<IGatewayStore> CreateStoreAsync()
    {
        _temp = await TempStore.CreateAsync();
        return _temp.Store;
    }

    private protected override async Task DisposeStoreAsync()
    {
        if (_temp is not null)
        {
            await _temp.DisposeAsync();
        }
    }

    [Fact]
    public async Task InitializeAsync_StoreWithVersion6UsageEvents_ConvertsThemAndRollsThemUp()
    {
        // Arrange: put the store back to schema 6 with raw events as version 6 wrote them (ISO 8601 text times)
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={_temp!.DatabasePath}"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                DROP TABLE usage_rollups; DROP TABLE usage_compaction; DROP TABLE usage_events; DELETE FROM schema_migrations WHERE version = 7;
                CREATE TABLE usage_events (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, key_id TEXT NOT NULL, route_id TEXT NOT NULL, upstream_id TEXT NOT NULL,
                    method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, latency_ms REAL NOT NULL, request_bytes INTEGER NOT NULL,
                    response_bytes INTEGER NOT NULL, units INTEGER NOT NULL, client_ip TEXT NOT NULL, request_id TEXT NOT NULL, timestamp TEXT NOT NULL);
                CREATE INDEX usage_events_user_time ON usage_events (user_id, timestamp);
                INSERT INTO usage_events (user_id, key_id, route_id, upstream_id, method, path, status, latency_ms, request_bytes, response_bytes, units, client_ip, request_id, timestamp) VALUES
                    ('usr_1', 'key_1', 'rte_1', 'ups_1', 'GET', '/a', 200, 7.5, 10, 20, 3, '127.0.0.1', 'req-a', '2026-05-10T08:30:15.1234567+00:00'),
                    ('usr_1', 'key_1', 'rte_1', 'ups_1', 'GET', '/b', 503, 700, 10, 20, 4, '127.0.0.1', 'req-b', '2026-05-10T08:30:59.9990000+00:00'),
                    ('usr_1', 'key_1', 'rte_1', 'ups_1', 'GET', '/c', 200, 1, 10, 20, 5, '127.0.0.1', 'req-c', '2026-04-30T23:59:59.0000000+00:00');
                """;
            await command.ExecuteNonQueryAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        // Act
        await using var upgraded = new SqliteGatewayStore(_temp.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        await upgraded.InitializeAsync(CancellationToken.None);
        var may = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);
        var summary = await upgraded.GetUsageSummaryAsync("usr_1", may, may.AddMonths(1), CancellationToken.None);
        var minute = await upgraded.GetUsageRollupsAsync("usr_1", UsageGranularity.Minute, may, may.AddMonths(1), CancellationToken.None);
        var recent = await upgraded.GetRecentUsageAsync("usr_1", 10, CancellationToken.None);

        // Assert
        Assert.Equal(new UsageSummary(may, may.AddMonths(1), 2, 7, 20, 40, 1), summary);
        Assert.Equal([(2, 1L, 1L), (5, 1L, 0L)], minute.Select(r => (r.StatusClass, r.Requests, r.LatencyBuckets[1])));
        Assert.Equal(1, minute[1].LatencyBuckets[7]); // 700 ms: (500, 1000]
        Assert.Equal(["/b", "/a", "/c"], recent.Select(e => e.Path));
        Assert.Equal(new DateTimeOffset(2026, 5, 10, 8, 30, 15, 123, TimeSpan.Zero).AddTicks(4560), recent[1].Timestamp);
    }
}

/// <summary>
/// SPEC §8: usage in a store, engine-neutral — every field of a raw event kept, periods half-open, months in UTC,
/// rollups equal to the raw events, compaction keeping totals, retention deleting exactly what is older. Each engine
/// runs it through a derived class that creates a fresh, migrated store.
/// </summary>
public abstract partial class UsageStoreTests : IAsyncLifetime
{
    private StoreHandle _temp = null!;

    public async Task InitializeAsync() => _temp = new StoreHandle(await CreateStoreAsync());

    public Task DisposeAsync() => DisposeStoreAsync();

    /// <summary>A fresh, migrated store for one test.</summary>
    private protected abstract Task<IGatewayStore> CreateStoreAsync();

    /// <summary>Disposes what <see cref="CreateStoreAsync"/> created.</summary>
    private protected abstract Task DisposeStoreAsync();

    /// <summary>Keeps the tests' <c>_temp.Store</c> wording.</summary>
    private sealed record StoreHandle(IGatewayStore Store);

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

    [Fact]
    public async Task AddUsageEventsAsync_ThenGetRecent_RoundTripsEveryField()
    {
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
        await _temp.Store.AddUsageEventsAsync([stored], CancellationToken.None);
        var read = await _temp.Store.GetRecentUsageAsync("usr_1", 10, CancellationToken.None);

        // Assert
        var e = Assert.Single(read);
        Assert.Equal(stored, e);
        Assert.Equal(TimeSpan.Zero, e.Timestamp.Offset);
    }

    [Fact]
    public async Task GetUsageSummaryAsync_PeriodIsHalfOpen_CountsOnlyEventsInside()
    {
        // Arrange
        var start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);
        var end = start.AddMonths(1);
        await _temp.Store.AddUsageEventsAsync(
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
        var summary = await _temp.Store.GetUsageSummaryAsync("usr_1", start, end, CancellationToken.None);

        // Assert
        Assert.Equal(new UsageSummary(start, end, Requests: 4, Units: 18, RequestBytes: 400, ResponseBytes: 4 * 2048, Errors: 2), summary);
    }

    [Fact]
    public async Task GetUsageSummaryAsync_TimestampsWithOffsets_ComparedAsUtc()
    {
        // Arrange: 01:30 at +02:00 is 23:30 UTC on the previous day, in April
        var start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);
        await _temp.Store.AddUsageEventsAsync(
        [
            Event("usr_1", new DateTimeOffset(2026, 5, 1, 1, 30, 0, TimeSpan.FromHours(2)), units: 7),
            Event("usr_1", new DateTimeOffset(2026, 4, 30, 23, 30, 0, TimeSpan.FromHours(-5)), units: 11),
        ], CancellationToken.None);

        // Act
        var may = await _temp.Store.GetUsageSummaryAsync("usr_1", start, start.AddMonths(1), CancellationToken.None);
        var april = await _temp.Store.GetUsageSummaryAsync("usr_1", start.AddMonths(-1), start, CancellationToken.None);

        // Assert
        Assert.Equal(11, may.Units);
        Assert.Equal(7, april.Units);
    }

    [Fact]
    public async Task GetUsageSummaryAsync_NoEvents_ReturnsZeros()
    {
        // Arrange
        var start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);

        // Act
        var summary = await _temp.Store.GetUsageSummaryAsync("usr_none", start, start.AddMonths(1), CancellationToken.None);

        // Assert
        Assert.Equal(new UsageSummary(start, start.AddMonths(1), 0, 0, 0, 0, 0), summary);
    }

    [Fact]
    public async Task GetUsageHistoryAsync_SomeMonthsEmpty_ReturnsEveryMonthNewestFirst()
    {
        // Arrange
        var now = new DateTimeOffset(2026, 3, 15, 12, 0, 0, TimeSpan.Zero);
        await _temp.Store.AddUsageEventsAsync(
        [
            Event("usr_1", new DateTimeOffset(2026, 3, 1, 0, 0, 0, TimeSpan.Zero), units: 2),
            Event("usr_1", new DateTimeOffset(2026, 3, 20, 0, 0, 0, TimeSpan.Zero), units: 3),
            Event("usr_1", new DateTimeOffset(2026, 1, 31, 23, 59, 59, TimeSpan.Zero), units: 5, status: 500),
            Event("usr_1", new DateTimeOffset(2025, 12, 31, 0, 0, 0, TimeSpan.Zero), units: 7),
            Event("usr_1", new DateTimeOffset(2025, 11, 30, 0, 0, 0, TimeSpan.Zero), units: 1000),
            Event("usr_2", new DateTimeOffset(2026, 2, 2, 0, 0, 0, TimeSpan.Zero), units: 2000),
        ], CancellationToken.None);

        // Act
        var history = await _temp.Store.GetUsageHistoryAsync("usr_1", 4, now, CancellationToken.None);

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

    [Fact]
    public async Task GetRecentUsageAsync_Limit_ReturnsNewestFirst()
    {
        // Arrange
        var t = new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);
        await _temp.Store.AddUsageEventsAsync(
        [
            Event("usr_1", t.AddSeconds(1), path: "/b"),
            Event("usr_1", t.AddSeconds(3), path: "/d"),
            Event("usr_1", t, path: "/a"),
            Event("usr_2", t.AddSeconds(9), path: "/other"),
            Event("usr_1", t.AddSeconds(2), path: "/c"),
        ], CancellationToken.None);

        // Act
        var recent = await _temp.Store.GetRecentUsageAsync("usr_1", 3, CancellationToken.None);

        // Assert
        Assert.Equal(["/d", "/c", "/b"], recent.Select(e => e.Path));
    }

    [Fact]
    public async Task AddUsageEventsAsync_OneEventFails_StoresNoneOfTheBatch()
    {
        // Arrange: a null column violates NOT NULL halfway through the batch
        var t = new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);
        var bad = Event("usr_1", t.AddSeconds(1)) with { Path = null! };

        // Act
        var failure = await Record.ExceptionAsync(() => _temp.Store.AddUsageEventsAsync([Event("usr_1", t), bad, Event("usr_1", t.AddSeconds(2))], CancellationToken.None));
        var summary = await _temp.Store.GetUsageSummaryAsync("usr_1", t.AddDays(-1), t.AddDays(1), CancellationToken.None);

        // Assert
        Assert.NotNull(failure);
        Assert.Equal(0, summary.Requests);
    }

    [Fact]
    public async Task AddUsageEventsAsync_Batch_MinuteRollupsEqualTheRawEvents()
    {
        // Arrange: two minutes, two keys, 2xx/4xx/5xx, latencies in known histogram buckets
        var t = new DateTimeOffset(2026, 5, 10, 8, 30, 0, TimeSpan.Zero);
        UsageEvent[] events =
        [
            Event("usr_1", t.AddSeconds(1), units: 2) with { LatencyMs = 3 },
            Event("usr_1", t.AddSeconds(59), units: 3) with { LatencyMs = 5 },
            Event("usr_1", t.AddSeconds(30), units: 4, status: 404) with { LatencyMs = 7 },
            Event("usr_1", t.AddSeconds(30), units: 5, status: 503) with { LatencyMs = 20_000 },
            Event("usr_1", t.AddSeconds(61), units: 6) with { KeyId = "key_2", LatencyMs = 100 },
        ];

        // Act
        await _temp.Store.AddUsageEventsAsync(events, CancellationToken.None);
        var rollups = await _temp.Store.GetUsageRollupsAsync("usr_1", UsageGranularity.Minute, t, t.AddHours(1), CancellationToken.None);
        var raw = await _temp.Store.GetRecentUsageAsync("usr_1", 100, CancellationToken.None);

        // Assert
        Assert.Equal(
        [
            (t, "key_1", 2, 2L, 5L, 200L, 0L, 2L),
            (t, "key_1", 4, 1L, 4L, 100L, 0L, 0L),
            (t, "key_1", 5, 1L, 5L, 100L, 1L, 0L),
            (t.AddMinutes(1), "key_2", 2, 1L, 6L, 100L, 0L, 0L),
        ], rollups.Select(r => (r.BucketStart, r.KeyId, r.StatusClass, r.Requests, r.Units, r.RequestBytes, r.LatencyBuckets[^1], r.LatencyBuckets[0])));
        Assert.Equal(1, rollups[1].LatencyBuckets[1]); // 7 ms: (5, 10]
        Assert.Equal(1, rollups[3].LatencyBuckets[4]); // 100 ms: (50, 100]
        Assert.Equal(raw.Count, rollups.Sum(r => r.Requests));
        Assert.Equal(raw.Sum(e => e.Units), rollups.Sum(r => r.Units));
        Assert.Equal(raw.Sum(e => e.ResponseBytes), rollups.Sum(r => r.ResponseBytes));
        Assert.Equal(raw.Sum(e => e.LatencyMs), rollups.Sum(r => r.LatencyMsSum), 6);
    }

    [Fact]
    public async Task AddUsageEventsAsync_RawEventsOff_StoresRollupsAndQuotaButNoEvents()
    {
        // Arrange
        var t = new DateTimeOffset(2026, 5, 10, 8, 30, 0, TimeSpan.Zero);

        // Act
        await _temp.Store.AddUsageEventsAsync([Event("usr_1", t, units: 4), Event("usr_1", t.AddSeconds(5), units: 6, status: 500)], storeRawEvents: false, CancellationToken.None);
        var summary = await _temp.Store.GetUsageSummaryAsync("usr_1", QuotaPeriod.StartOf(t), QuotaPeriod.ResetOf(t), CancellationToken.None);
        var quota = await _temp.Store.LoadQuotaUsageAsync(QuotaPeriod.StartOf(t), CancellationToken.None);
        var raw = await _temp.Store.GetRecentUsageAsync("usr_1", 10, CancellationToken.None);

        // Assert
        Assert.Empty(raw);
        Assert.Equal(new UsageSummary(QuotaPeriod.StartOf(t), QuotaPeriod.ResetOf(t), 2, 10, 200, 2 * 2048, 1), summary);
        Assert.Equal(10, Assert.Single(quota, q => q.UserId == "usr_1").Used);
    }

    [Fact]
    public async Task CompactUsageAsync_MinuteToHourToDay_KeepsEveryTotal()
    {
        // Arrange: events over three days and two months, read before any compaction
        var start = new DateTimeOffset(2026, 4, 29, 22, 10, 0, TimeSpan.Zero);
        var events = Enumerable.Range(0, 300).Select(i => Event("usr_1", start.AddMinutes(i * 17), units: 1 + i % 4, status: i % 7 == 0 ? 502 : 200)).ToArray();
        await _temp.Store.AddUsageEventsAsync(events, CancellationToken.None);
        var now = start.AddDays(4);
        var may = QuotaPeriod.StartOf(now);
        var monthBefore = await _temp.Store.GetUsageSummaryAsync("usr_1", may, may.AddMonths(1), CancellationToken.None);
        var historyBefore = await _temp.Store.GetUsageHistoryAsync("usr_1", 3, now, CancellationToken.None);

        // Act: compact until nothing is left, hours first then days
        while (await _temp.Store.CompactUsageAsync(UsageGranularity.Hour, now, 5, CancellationToken.None) > 0)
        {
        }

        while (await _temp.Store.CompactUsageAsync(UsageGranularity.Day, now, 1, CancellationToken.None) > 0)
        {
        }

        var watermarks = await _temp.Store.GetUsageWatermarksAsync(CancellationToken.None);
        var monthAfter = await _temp.Store.GetUsageSummaryAsync("usr_1", may, may.AddMonths(1), CancellationToken.None);
        var historyAfter = await _temp.Store.GetUsageHistoryAsync("usr_1", 3, now, CancellationToken.None);
        var hours = await _temp.Store.GetUsageRollupsAsync("usr_1", UsageGranularity.Hour, start.AddDays(-1), now, CancellationToken.None);
        var days = await _temp.Store.GetUsageRollupsAsync("usr_1", UsageGranularity.Day, start.AddDays(-1), now, CancellationToken.None);

        // Assert
        Assert.Equal(new DateTimeOffset(2026, 5, 3, 22, 0, 0, TimeSpan.Zero), watermarks.Hours);
        Assert.Equal(new DateTimeOffset(2026, 5, 3, 0, 0, 0, TimeSpan.Zero), watermarks.Days);
        Assert.Equal(monthBefore, monthAfter);
        Assert.Equal(historyBefore, historyAfter);
        Assert.Equal(events.Length, hours.Sum(h => h.Requests));
        var compactedIntoDays = events.Where(e => e.Timestamp < watermarks.Days).ToList();
        Assert.Equal(compactedIntoDays.Sum(e => e.Units), days.Sum(d => d.Units));
        Assert.Equal(compactedIntoDays.Count, days.Sum(d => d.LatencyBuckets.Sum()));
        Assert.Equal(compactedIntoDays.Count(e => e.Status >= 500), days.Where(d => d.StatusClass == 5).Sum(d => d.Requests));
    }

    [Fact]
    public async Task AddUsageEventsAsync_LateEventAfterCompaction_CountsOnceInEveryRead()
    {
        // Arrange: a day compacted into hours and days, then a stream that started in it ends
        var day = new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);
        await _temp.Store.AddUsageEventsAsync([Event("usr_1", day.AddHours(3), units: 2)], CancellationToken.None);
        while (await _temp.Store.CompactUsageAsync(UsageGranularity.Hour, day.AddDays(1), 24, CancellationToken.None) > 0)
        {
        }

        while (await _temp.Store.CompactUsageAsync(UsageGranularity.Day, day.AddDays(1), 1, CancellationToken.None) > 0)
        {
        }

        // Act
        await _temp.Store.AddUsageEventsAsync([Event("usr_1", day.AddHours(5), units: 7)], CancellationToken.None);
        var summary = await _temp.Store.GetUsageSummaryAsync("usr_1", day, day.AddDays(1), CancellationToken.None);
        var hours = await _temp.Store.GetUsageRollupsAsync("usr_1", UsageGranularity.Hour, day, day.AddDays(1), CancellationToken.None);
        var days = await _temp.Store.GetUsageRollupsAsync("usr_1", UsageGranularity.Day, day, day.AddDays(1), CancellationToken.None);

        // Assert
        Assert.Equal((2L, 9L), (summary.Requests, summary.Units));
        Assert.Equal(9, hours.Sum(h => h.Units));
        Assert.Equal(9, Assert.Single(days).Units);
    }

    [Fact]
    public async Task PruneUsageAsync_RawEvents_DeletesExactlyWhatIsOlderInSmallBatches()
    {
        // Arrange
        var before = new DateTimeOffset(2026, 5, 10, 12, 0, 0, TimeSpan.Zero);
        var old = Enumerable.Range(1, 5).Select(i => Event("usr_1", before.AddTicks(-i * 10_000), path: "/old" + i)).ToList();
        old.Add(Event("usr_2", before.AddDays(-3), path: "/old-other-user"));
        UsageEvent[] kept = [Event("usr_1", before, path: "/at"), Event("usr_1", before.AddMinutes(1), path: "/after")];
        await _temp.Store.AddUsageEventsAsync([.. kept.Take(1), .. old, .. kept.Skip(1)], CancellationToken.None);
        var monthBefore = await _temp.Store.GetUsageSummaryAsync("usr_1", QuotaPeriod.StartOf(before), QuotaPeriod.ResetOf(before), CancellationToken.None);

        // Act
        var batches = new List<int>();
        for (var i = 0; i < 10; i++)
        {
            var deleted = await _temp.Store.PruneUsageAsync(UsageData.RawEvents, before, 4, CancellationToken.None);
            batches.Add(deleted);
            if (deleted < 4)
            {
                break;
            }
        }

        var left = await _temp.Store.GetRecentUsageAsync("usr_1", 100, CancellationToken.None);
        var monthAfter = await _temp.Store.GetUsageSummaryAsync("usr_1", QuotaPeriod.StartOf(before), QuotaPeriod.ResetOf(before), CancellationToken.None);

        // Assert
        Assert.Equal([4, 2], batches);
        Assert.Equal(["/after", "/at"], left.Select(e => e.Path));
        Assert.Empty(await _temp.Store.GetRecentUsageAsync("usr_2", 10, CancellationToken.None));
        Assert.Equal(monthBefore, monthAfter); // totals come from rollups, which retention of raw events leaves alone
    }

    [Fact]
    public async Task PruneUsageAsync_Rollups_NeverDeletesRowsThatReadsStillNeed()
    {
        // Arrange: minute rows of two days, only the first day compacted
        var day = new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);
        await _temp.Store.AddUsageEventsAsync([Event("usr_1", day.AddHours(1), units: 3), Event("usr_1", day.AddDays(1).AddHours(1), units: 4)], CancellationToken.None);
        while (await _temp.Store.CompactUsageAsync(UsageGranularity.Hour, day.AddDays(1), 24, CancellationToken.None) > 0)
        {
        }

        // Act: every minute row is past a retention that ends after both days
        var deleted = await _temp.Store.PruneUsageAsync(UsageData.MinuteRollups, day.AddDays(5), 100, CancellationToken.None);
        var hoursDeleted = await _temp.Store.PruneUsageAsync(UsageData.HourRollups, day.AddDays(5), 100, CancellationToken.None);
        var minutes = await _temp.Store.GetUsageRollupsAsync("usr_1", UsageGranularity.Minute, day, day.AddDays(2), CancellationToken.None);
        var summary = await _temp.Store.GetUsageSummaryAsync("usr_1", day, day.AddDays(2), CancellationToken.None);

        // Assert: the compacted day's minute went; the uncompacted day's stayed; hours stay until days are compacted
        Assert.Equal(1, deleted);
        Assert.Equal(0, hoursDeleted);
        Assert.Equal(4, Assert.Single(minutes).Units);
        Assert.Equal((2L, 7L), (summary.Requests, summary.Units));
    }
}
