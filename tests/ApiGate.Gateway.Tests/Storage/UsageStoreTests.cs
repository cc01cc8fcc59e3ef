using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Sql;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// SPEC §8: usage in every store (SQLite, PostgreSQL), each test once per engine on a fresh, migrated store — every
/// field of a raw event kept, periods half-open, months in UTC, rollups equal to the raw events, compaction keeping
/// totals, retention deleting exactly what is older. Migration 7 of each engine: <see cref="UsageMigrationTests"/>.
/// </summary>
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

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddUsageEventsAsync_Batch_MinuteRollupsEqualTheRawEvents(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
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
        await store.AddUsageEventsAsync(events, CancellationToken.None);
        var rollups = await store.GetUserUsageRowsAsync("usr_1", t, t.AddHours(1), CancellationToken.None); // nothing compacted: minute rows
        var raw = await store.GetRecentUsageAsync("usr_1", 100, CancellationToken.None);

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

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddUsageEventsAsync_RawEventsOff_StoresRollupsAndQuotaButNoEvents(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        // Arrange
        var t = new DateTimeOffset(2026, 5, 10, 8, 30, 0, TimeSpan.Zero);

        // Act
        await store.AddUsageEventsAsync([Event("usr_1", t, units: 4), Event("usr_1", t.AddSeconds(5), units: 6, status: 500)], RawUsageEvents.None, CancellationToken.None);
        var summary = await store.GetUsageSummaryAsync("usr_1", QuotaPeriod.StartOf(t), QuotaPeriod.ResetOf(t), CancellationToken.None);
        var quota = await store.LoadQuotaUsageAsync(QuotaPeriod.StartOf(t), CancellationToken.None);
        var raw = await store.GetRecentUsageAsync("usr_1", 10, CancellationToken.None);

        // Assert
        Assert.Empty(raw);
        Assert.Equal(new UsageSummary(QuotaPeriod.StartOf(t), QuotaPeriod.ResetOf(t), 2, 10, 200, 2 * 2048, 1), summary);
        Assert.Equal(10, Assert.Single(quota, q => q.UserId == "usr_1").Used);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddUsageEventsAsync_AnonymousEvents_InTheRollupsButNoRawRow(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        // Arrange: a batch mixing a public route's requests with a known caller's
        var t = new DateTimeOffset(2026, 5, 10, 8, 30, 0, TimeSpan.Zero);
        UsageEvent[] events =
        [
            Event(UsageEvent.Anonymous, t, path: "/public/1") with { KeyId = UsageEvent.Anonymous },
            Event("usr_1", t.AddSeconds(1), path: "/private/1"),
            Event(UsageEvent.Anonymous, t.AddSeconds(2), path: "/public/2") with { KeyId = UsageEvent.Anonymous },
            Event(UsageEvent.Anonymous, t.AddSeconds(3), path: "/public/3") with { KeyId = UsageEvent.Anonymous },
            Event("usr_1", t.AddSeconds(4), path: "/private/2"),
        ];

        // Act
        await store.AddUsageEventsAsync(events, CancellationToken.None);
        await store.AddUsageEventsAsync([Event(UsageEvent.Anonymous, t.AddSeconds(5)) with { KeyId = UsageEvent.Anonymous }], CancellationToken.None); // nothing raw at all
        var anonymousRows = await store.GetRecentUsageAsync(UsageEvent.Anonymous, 100, CancellationToken.None);
        var callerRows = await store.GetRecentUsageAsync("usr_1", 100, CancellationToken.None);
        var anonymousRollups = await store.GetUserUsageRowsAsync(UsageEvent.Anonymous, t, t.AddHours(1), CancellationToken.None);
        var callerRollups = await store.GetUserUsageRowsAsync("usr_1", t, t.AddHours(1), CancellationToken.None);

        // Assert
        Assert.Empty(anonymousRows);
        Assert.Equal(["/private/2", "/private/1"], callerRows.Select(e => e.Path));
        Assert.Equal(4, anonymousRollups.Sum(r => r.Requests));
        Assert.Equal(2, callerRollups.Sum(r => r.Requests));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UserUsageRowsReadAsync_CompactionAndPruneBetweenTheWatermarksAndTheRows_CountsEveryRequestOnce(string engine)
    {
        // Arrange: 40 requests in one hour, as minute rows only; right after the read takes the watermarks, maintenance
        // compacts that hour and prunes its minute rows (committed on another connection)
        var store = (await engines.CreateAsync(engine)).Store;
        var hour = new DateTimeOffset(2026, 5, 10, 10, 0, 0, TimeSpan.Zero);
        await store.AddUsageEventsAsync([.. Enumerable.Range(0, 40).Select(i => Event("usr_1", hour.AddSeconds(i * 89)))], CancellationToken.None);
        var maintained = 0;
        ((SqlGatewayStore)store).AfterUsageWatermarksRead = async ct =>
        {
            if (Interlocked.Increment(ref maintained) == 1)
            {
                Assert.True(await store.CompactUsageAsync(UsageGranularity.Hour, hour.AddHours(1), 24, ct) > 0);
                Assert.Equal(40, await store.PruneUsageAsync(UsageData.MinuteRollups, hour.AddHours(1), 1000, ct));
            }
        };

        // Act
        var rows = await UserUsageRows.ReadAsync(store, "usr_1", hour.AddHours(-10), hour.AddHours(14), CancellationToken.None);
        var after = await UserUsageRows.ReadAsync(store, "usr_1", hour.AddHours(-10), hour.AddHours(14), CancellationToken.None);

        // Assert: the minute rows of the snapshot (before, the hour was read from rows the prune had deleted: none), then
        // the hour row
        Assert.Equal(2, maintained);
        Assert.Equal(40, rows.Sum(r => r.Requests));
        Assert.All(rows, r => Assert.Equal(UsageGranularity.Minute, r.Granularity));
        Assert.Equal(40, after.Sum(r => r.Requests));
        Assert.All(after, r => Assert.Equal(UsageGranularity.Hour, r.Granularity));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CompactUsageAsync_MinuteToHourToDay_KeepsEveryTotal(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        // Arrange: events over three days and two months, read before any compaction
        var start = new DateTimeOffset(2026, 4, 29, 22, 10, 0, TimeSpan.Zero);
        var events = Enumerable.Range(0, 300).Select(i => Event("usr_1", start.AddMinutes(i * 17), units: 1 + i % 4, status: i % 7 == 0 ? 502 : 200)).ToArray();
        await store.AddUsageEventsAsync(events, CancellationToken.None);
        var now = start.AddDays(4);
        var may = QuotaPeriod.StartOf(now);
        var monthBefore = await store.GetUsageSummaryAsync("usr_1", may, may.AddMonths(1), CancellationToken.None);
        var historyBefore = await store.GetUsageHistoryAsync("usr_1", 3, now, CancellationToken.None);

        // Act: compact until nothing is left, hours first then days
        while (await store.CompactUsageAsync(UsageGranularity.Hour, now, 5, CancellationToken.None) > 0)
        {
        }

        while (await store.CompactUsageAsync(UsageGranularity.Day, now, 1, CancellationToken.None) > 0)
        {
        }

        var watermarks = await store.GetUsageWatermarksAsync(CancellationToken.None);
        var monthAfter = await store.GetUsageSummaryAsync("usr_1", may, may.AddMonths(1), CancellationToken.None);
        var historyAfter = await store.GetUsageHistoryAsync("usr_1", 3, now, CancellationToken.None);
        // One user: the gateway-wide series of a granularity are that user's rows of it
        var hours = await store.GetGatewayUsageSeriesAsync(UsageGranularity.Hour, start.AddDays(-1), now, CancellationToken.None);
        var days = await store.GetGatewayUsageSeriesAsync(UsageGranularity.Day, start.AddDays(-1), now, CancellationToken.None);
        var read = await store.GetUserUsageRowsAsync("usr_1", start.AddDays(-1), now, CancellationToken.None);

        // Assert
        Assert.Equal(new DateTimeOffset(2026, 5, 3, 22, 0, 0, TimeSpan.Zero), watermarks.Hours);
        Assert.Equal(new DateTimeOffset(2026, 5, 3, 0, 0, 0, TimeSpan.Zero), watermarks.Days);
        Assert.Equal(monthBefore, monthAfter);
        Assert.Equal(historyBefore, historyAfter);
        Assert.Equal(events.Length, hours.Sum(h => h.Requests));
        Assert.Equal((events.Length, events.Sum(e => e.Units)), (read.Sum(r => r.Requests), read.Sum(r => r.Units))); // each request once
        Assert.Equal([UsageGranularity.Day, UsageGranularity.Hour], read.Select(r => r.Granularity).Distinct()); // no minute left after the hour watermark
        var compactedIntoDays = events.Where(e => e.Timestamp < watermarks.Days).ToList();
        Assert.Equal(compactedIntoDays.Sum(e => e.Units), days.Sum(d => d.Units));
        Assert.Equal(compactedIntoDays.Count, days.Sum(d => d.LatencyBuckets.Sum()));
        Assert.Equal(compactedIntoDays.Count(e => e.Status >= 500), days.Where(d => d.StatusClass == 5).Sum(d => d.Requests));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddUsageEventsAsync_LateEventAfterCompaction_CountsOnceInEveryRead(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        // Arrange: a day compacted into hours and days, then a stream that started in it ends
        var day = new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);
        await store.AddUsageEventsAsync([Event("usr_1", day.AddHours(3), units: 2)], CancellationToken.None);
        while (await store.CompactUsageAsync(UsageGranularity.Hour, day.AddDays(1), 24, CancellationToken.None) > 0)
        {
        }

        while (await store.CompactUsageAsync(UsageGranularity.Day, day.AddDays(1), 1, CancellationToken.None) > 0)
        {
        }

        // Act
        await store.AddUsageEventsAsync([Event("usr_1", day.AddHours(5), units: 7)], CancellationToken.None);
        var summary = await store.GetUsageSummaryAsync("usr_1", day, day.AddDays(1), CancellationToken.None);
        var hours = await store.GetGatewayUsageSeriesAsync(UsageGranularity.Hour, day, day.AddDays(1), CancellationToken.None);
        var days = await store.GetGatewayUsageSeriesAsync(UsageGranularity.Day, day, day.AddDays(1), CancellationToken.None);
        var read = await store.GetUserUsageRowsAsync("usr_1", day, day.AddDays(1), CancellationToken.None);

        // Assert
        Assert.Equal((2L, 9L), (summary.Requests, summary.Units));
        Assert.Equal(9, hours.Sum(h => h.Units));
        Assert.Equal(9, Assert.Single(days).Units);
        Assert.Equal((UsageGranularity.Day, 9L), (Assert.Single(read).Granularity, read[0].Units));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task PruneUsageAsync_RawEvents_DeletesExactlyWhatIsOlderInSmallBatches(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        // Arrange
        var before = new DateTimeOffset(2026, 5, 10, 12, 0, 0, TimeSpan.Zero);
        var old = Enumerable.Range(1, 5).Select(i => Event("usr_1", before.AddTicks(-i * 10_000), path: "/old" + i)).ToList();
        old.Add(Event("usr_2", before.AddDays(-3), path: "/old-other-user"));
        UsageEvent[] kept = [Event("usr_1", before, path: "/at"), Event("usr_1", before.AddMinutes(1), path: "/after")];
        await store.AddUsageEventsAsync([.. kept.Take(1), .. old, .. kept.Skip(1)], CancellationToken.None);
        var monthBefore = await store.GetUsageSummaryAsync("usr_1", QuotaPeriod.StartOf(before), QuotaPeriod.ResetOf(before), CancellationToken.None);

        // Act
        var batches = new List<int>();
        for (var i = 0; i < 10; i++)
        {
            var deleted = await store.PruneUsageAsync(UsageData.RawEvents, before, 4, CancellationToken.None);
            batches.Add(deleted);
            if (deleted < 4)
            {
                break;
            }
        }

        var left = await store.GetRecentUsageAsync("usr_1", 100, CancellationToken.None);
        var monthAfter = await store.GetUsageSummaryAsync("usr_1", QuotaPeriod.StartOf(before), QuotaPeriod.ResetOf(before), CancellationToken.None);

        // Assert
        Assert.Equal([4, 2], batches);
        Assert.Equal(["/after", "/at"], left.Select(e => e.Path));
        Assert.Empty(await store.GetRecentUsageAsync("usr_2", 10, CancellationToken.None));
        Assert.Equal(monthBefore, monthAfter); // totals come from rollups, which retention of raw events leaves alone
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task PruneUsageAsync_Rollups_NeverDeletesRowsThatReadsStillNeed(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        // Arrange: minute rows of two days, only the first day compacted
        var day = new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero);
        await store.AddUsageEventsAsync([Event("usr_1", day.AddHours(1), units: 3), Event("usr_1", day.AddDays(1).AddHours(1), units: 4)], CancellationToken.None);
        while (await store.CompactUsageAsync(UsageGranularity.Hour, day.AddDays(1), 24, CancellationToken.None) > 0)
        {
        }

        // Act: every minute row is past a retention that ends after both days
        var deleted = await store.PruneUsageAsync(UsageData.MinuteRollups, day.AddDays(5), 100, CancellationToken.None);
        var hoursDeleted = await store.PruneUsageAsync(UsageData.HourRollups, day.AddDays(5), 100, CancellationToken.None);
        var minutes = await store.GetGatewayUsageSeriesAsync(UsageGranularity.Minute, day, day.AddDays(2), CancellationToken.None);
        var summary = await store.GetUsageSummaryAsync("usr_1", day, day.AddDays(2), CancellationToken.None);

        // Assert: the compacted day's minute went; the uncompacted day's stayed; hours stay until days are compacted
        Assert.Equal(1, deleted);
        Assert.Equal(0, hoursDeleted);
        Assert.Equal(4, Assert.Single(minutes).Units);
        Assert.Equal((2L, 7L), (summary.Requests, summary.Units));
    }
}
