using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Postgres;
using ApiGate.Storage.Secrets;
using Npgsql;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// A PostgreSQL start that has migrations to apply holds (or waits for) the migration lock for as long as migrating
/// takes, whatever the DSN's command timeout or the server's statement timeout: a migration over a large table took longer than Npgsql's 30 s default and
/// was rolled back on every start, and an instance waiting for another's migration gave up with "does not answer".
/// </summary>
public sealed class PostgresMigrationWaitTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [PostgresFact]
    public async Task InitializeAsync_MigrationLockHeldPastTheCommandTimeout_WaitsThenMigrates()
    {
        // Arrange: a store with one migration to apply, opened with a 1 s command timeout while another session holds the lock
        var created = await engines.CreateAsync(GatewayStores.Postgres);
        await PostgresServer.ExecuteAsync(created.Dsn, "DELETE FROM schema_migrations WHERE version = 14");
        await using var holder = new NpgsqlConnection(created.Dsn);
        await holder.OpenAsync();
        await Dapper.SqlMapper.ExecuteAsync(holder, "SELECT pg_advisory_lock(@Key)", new { Key = PostgresGatewayStore.MigrationLock });
        await using var upgraded = GatewayStores.Create(GatewayStores.Postgres, created.Dsn + ";Command Timeout=1", new SecretProtector(null));

        // Act: keep the start waiting three times its command timeout, then let it go
        var initialize = upgraded.InitializeAsync(None);
        while (await Dapper.SqlMapper.ExecuteScalarAsync<long>(holder,
                   "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'") == 0)
        {
            Assert.False(initialize.IsCompleted, "the start ended before it waited for the lock");
            await Task.Delay(50);
        }

        await Task.Delay(TimeSpan.FromSeconds(3));
        var waitingAfterTimeout = !initialize.IsCompleted;
        await Dapper.SqlMapper.ExecuteAsync(holder, "SELECT pg_advisory_unlock(@Key)", new { Key = PostgresGatewayStore.MigrationLock });
        await initialize;

        // Assert
        Assert.True(waitingAfterTimeout);
        Assert.Equal([14], upgraded.MigrationsApplied.Select(m => m.Version));
    }

    [PostgresFact]
    public async Task InitializeAsync_MigrationLockHeldByAnotherSession_SaysOnceWhoHoldsItThenWaits()
    {
        // Arrange: a psql-like session of another application holding the lock (an 'apigate migrate' suspended with
        // Ctrl+Z looks the same); before, a start or any command waited for it without a word
        var created = await engines.CreateAsync(GatewayStores.Postgres);
        await using var holder = new NpgsqlConnection(created.Dsn + ";Application Name=maintenance");
        await holder.OpenAsync();
        await Dapper.SqlMapper.ExecuteAsync(holder, "SELECT pg_advisory_lock(@Key)", new { Key = PostgresGatewayStore.MigrationLock });
        await using var store = GatewayStores.Create(GatewayStores.Postgres, created.Dsn, new SecretProtector(null));
        var said = new List<string>();
        store.Waiting = message =>
        {
            lock (said)
            {
                said.Add(message);
            }
        };

        // Act
        var initialize = store.InitializeAsync(None);
        for (var i = 0; i < 200 && said.Count == 0; i++) // bounded: 10 s
        {
            await Task.Delay(50);
        }

        await Task.Delay(300);
        var waiting = !initialize.IsCompleted;
        await Dapper.SqlMapper.ExecuteAsync(holder, "SELECT pg_advisory_unlock(@Key)", new { Key = PostgresGatewayStore.MigrationLock });
        await initialize;
        await using var again = GatewayStores.Create(GatewayStores.Postgres, created.Dsn, new SecretProtector(null));
        var saidAgain = false;
        again.Waiting = _ => saidAgain = true;
        await again.InitializeAsync(None);

        // Assert: said once, naming the store, the setting and the session that holds the lock; nothing when it is free
        Assert.True(waiting);
        var message = Assert.Single(said);
        Assert.StartsWith($"waiting for the migration lock of the store at {store.Location} (APIGATE_DATABASE_DSN / --database), held by another session (pid {holder.ProcessID}, application 'maintenance', ", message, StringComparison.Ordinal);
        Assert.False(saidAgain);
        Assert.Equal(0L, await Dapper.SqlMapper.ExecuteScalarAsync<long>(holder,
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = (@Key & 4294967295)::oid AND database = (SELECT oid FROM pg_database WHERE datname = current_database())", new { Key = PostgresGatewayStore.MigrationLock })); // let go after
    }

    [PostgresFact]
    public async Task InitializeAsync_MigrationLockHeldPastTheServersStatementTimeout_WaitsThenMigrates()
    {
        // Arrange: a store with one migration to apply, whose connections have a 500 ms statement_timeout (as a DBA sets
        // for the role or the database; here in the DSN's Options), while another session holds the migration lock
        var created = await engines.CreateAsync(GatewayStores.Postgres);
        await PostgresServer.ExecuteAsync(created.Dsn, "DELETE FROM schema_migrations WHERE version = 14");
        await using var holder = new NpgsqlConnection(created.Dsn);
        await holder.OpenAsync();
        await Dapper.SqlMapper.ExecuteAsync(holder, "SELECT pg_advisory_lock(@Key)", new { Key = PostgresGatewayStore.MigrationLock });
        await using var upgraded = GatewayStores.Create(GatewayStores.Postgres, created.Dsn + ";Options=-c statement_timeout=500", new SecretProtector(null));

        // Act: keep the start waiting three times the statement timeout, then let it go
        var initialize = upgraded.InitializeAsync(None);
        while (await Dapper.SqlMapper.ExecuteScalarAsync<long>(holder,
                   "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'") == 0)
        {
            Assert.False(initialize.IsCompleted, "the start ended before it waited for the lock");
            await Task.Delay(50);
        }

        await Task.Delay(TimeSpan.FromMilliseconds(1500));
        var waitingAfterTimeout = !initialize.IsCompleted;
        await Dapper.SqlMapper.ExecuteAsync(holder, "SELECT pg_advisory_unlock(@Key)", new { Key = PostgresGatewayStore.MigrationLock });
        await initialize;

        // Assert
        Assert.True(waitingAfterTimeout);
        Assert.Equal([14], upgraded.MigrationsApplied.Select(m => m.Version));
    }
}
