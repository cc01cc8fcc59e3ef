using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// Migration 7 of each engine (usage at volume): raw events written by schema 6 with ISO 8601 text times become Unix
/// microseconds and are rolled up into minute rows, so every usage read gives what it gave before the upgrade.
/// </summary>
public sealed class UsageMigrationTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const string Version6Events = """
        INSERT INTO usage_events (user_id, key_id, route_id, upstream_id, method, path, status, latency_ms, request_bytes, response_bytes, units, client_ip, request_id, timestamp) VALUES
            ('usr_1', 'key_1', 'rte_1', 'ups_1', 'GET', '/a', 200, 7.5, 10, 20, 3, '127.0.0.1', 'req-a', '2026-05-10T08:30:15.1234567+00:00'),
            ('usr_1', 'key_1', 'rte_1', 'ups_1', 'GET', '/b', 503, 700, 10, 20, 4, '127.0.0.1', 'req-b', '2026-05-10T08:30:59.9990000+00:00'),
            ('usr_1', 'key_1', 'rte_1', 'ups_1', 'GET', '/c', 200, 1, 10, 20, 5, '127.0.0.1', 'req-c', '2026-04-30T23:59:59.0000000+00:00');
        """;

    /// <summary>Each engine's usage tables put back as schema 6 had them.</summary>
    private const string SqliteVersion6 = """
        DROP TABLE usage_rollups; DROP TABLE usage_compaction; DROP TABLE usage_events; DELETE FROM schema_migrations WHERE version = 7;
        CREATE TABLE usage_events (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL, key_id TEXT NOT NULL, route_id TEXT NOT NULL, upstream_id TEXT NOT NULL,
            method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, latency_ms REAL NOT NULL, request_bytes INTEGER NOT NULL,
            response_bytes INTEGER NOT NULL, units INTEGER NOT NULL, client_ip TEXT NOT NULL, request_id TEXT NOT NULL, timestamp TEXT NOT NULL);
        CREATE INDEX usage_events_user_time ON usage_events (user_id, timestamp);
        """;

    private const string PostgresVersion6 = """
        DROP TABLE usage_rollups; DROP TABLE usage_compaction; DROP TABLE usage_events; DELETE FROM schema_migrations WHERE version = 7;
        CREATE TABLE usage_events (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id TEXT NOT NULL, key_id TEXT NOT NULL, route_id TEXT NOT NULL,
            upstream_id TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, status INTEGER NOT NULL, latency_ms DOUBLE PRECISION NOT NULL,
            request_bytes BIGINT NOT NULL, response_bytes BIGINT NOT NULL, units BIGINT NOT NULL, client_ip TEXT NOT NULL, request_id TEXT NOT NULL,
            timestamp TEXT NOT NULL);
        CREATE INDEX usage_events_user_time ON usage_events (user_id, timestamp);
        """;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task InitializeAsync_StoreWithVersion6UsageEvents_ConvertsThemAndRollsThemUp(string engine)
    {
        // Arrange: put the store back to schema 6 with raw events as version 6 wrote them (ISO 8601 text times)
        var created = await engines.CreateAsync(engine);
        if (engine == GatewayStores.Sqlite)
        {
            await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={created.Dsn}");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = SqliteVersion6 + Version6Events;
            await command.ExecuteNonQueryAsync();
        }
        else
        {
            await PostgresServer.ExecuteAsync(created.Dsn, PostgresVersion6 + Version6Events);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        // Act
        await using var upgraded = GatewayStores.Create(engine, created.Dsn, new SecretProtector(null));
        await upgraded.InitializeAsync(CancellationToken.None);
        var may = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);
        var summary = await upgraded.GetUsageSummaryAsync("usr_1", may, may.AddMonths(1), CancellationToken.None);
        var april = await upgraded.GetUsageSummaryAsync("usr_1", may.AddMonths(-1), may, CancellationToken.None);
        var minute = await upgraded.GetUserUsageRowsAsync("usr_1", may, may.AddMonths(1), CancellationToken.None); // nothing compacted: minute rows
        var recent = await upgraded.GetRecentUsageAsync("usr_1", 10, CancellationToken.None);
        var watermarks = await upgraded.GetUsageWatermarksAsync(CancellationToken.None);

        // Assert
        Assert.Equal([(7, "usage rollups, compaction, retention")], upgraded.MigrationsApplied);
        Assert.Equal(new UsageSummary(may, may.AddMonths(1), 2, 7, 20, 40, 1), summary);
        Assert.Equal((1L, 5L), (april.Requests, april.Units));
        Assert.Equal([(2, 1L, 1L), (5, 1L, 0L)], minute.Select(r => (r.StatusClass, r.Requests, r.LatencyBuckets[1])));
        Assert.All(minute, r => Assert.Equal(UsageGranularity.Minute, r.Granularity));
        Assert.Equal(1, minute[1].LatencyBuckets[7]); // 700 ms: (500, 1000]
        Assert.Equal(["/b", "/a", "/c"], recent.Select(e => e.Path));
        Assert.Equal(new DateTimeOffset(2026, 5, 10, 8, 30, 15, 123, TimeSpan.Zero).AddTicks(4560), recent[1].Timestamp);
        Assert.Equal(new DateTimeOffset(2026, 5, 10, 8, 30, 59, 999, TimeSpan.Zero), recent[0].Timestamp);
        Assert.Equal(new UsageWatermarks(DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch), watermarks);
    }
}
