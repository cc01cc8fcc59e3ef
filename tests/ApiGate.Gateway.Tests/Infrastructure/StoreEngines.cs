using System.Reflection;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sql;
using Xunit.Sdk;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// The store test suite runs once per engine: a theory with <c>[EngineData(GatewayStores.Sqlite)]</c> and
/// <c>[EngineData(GatewayStores.Postgres)]</c> gets the engine's name and asks the class fixture
/// (<see cref="StoreEngines"/>) for a fresh, migrated store of it. The PostgreSQL case is skipped with one line naming
/// the package when PostgreSQL is not installed (never under <c>CI=true</c>, see <see cref="PostgresServer"/>).
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class EngineDataAttribute : DataAttribute
{
    private readonly string _engine;

    public EngineDataAttribute(string engine)
    {
        _engine = engine;
        Skip = engine == GatewayStores.Postgres ? PostgresServer.MissingReason : null;
    }

    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [[_engine]];
}

/// <summary>A <c>[Fact]</c> that needs PostgreSQL: skipped with one clear line when it is not installed (not under CI).</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        Skip = PostgresServer.MissingReason;
    }
}

/// <summary>A <c>[Fact]</c> that needs PostgreSQL and redis-server: skipped with one line naming what is missing (not under CI).</summary>
public sealed class PostgresAndRedisFactAttribute : FactAttribute
{
    public PostgresAndRedisFactAttribute()
    {
        Skip = PostgresServer.MissingReason ?? (RedisServer.Binary is null && !RedisServer.Required ? RedisServer.MissingMessage : null);
    }
}

/// <summary>
/// Class fixture: one PostgreSQL database per test class (CREATE DATABASE on the shared server, on first use), and
/// in it one schema per store, so every test starts from an empty, freshly migrated store; SQLite stores are files
/// in temp directories.
/// </summary>
public sealed class StoreEngines : IAsyncLifetime
{
    private readonly Lazy<Task<string>> _database = new(async () => await (await PostgresServer.Shared()).CreateDatabaseAsync());
    private readonly List<EngineStore> _stores = [];
    private readonly List<string> _directories = [];
    private int _schemas;

    /// <summary>A connection string to this class's PostgreSQL database (created on first use).</summary>
    internal Task<string> DatabaseAsync() => _database.Value;

    /// <summary>A DSN for a new, empty place to keep a store of <paramref name="engine"/> (not yet migrated).</summary>
    internal async Task<string> NewDsnAsync(string engine)
    {
        if (engine == GatewayStores.Sqlite)
        {
            var directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(directory);
            _directories.Add(directory);
            return Path.Combine(directory, "apigate.db");
        }

        var database = await DatabaseAsync();
        var schema = $"t{Interlocked.Increment(ref _schemas)}";
        await PostgresServer.ExecuteAsync(database, $"CREATE SCHEMA {schema}");
        return $"{database};Search Path={schema}";
    }

    /// <summary>A fresh, migrated store of <paramref name="engine"/>, disposed with the fixture.</summary>
    internal async Task<EngineStore> CreateAsync(string engine)
    {
        var dsn = await NewDsnAsync(engine);
        var store = GatewayStores.Create(engine, dsn, new SecretProtector(null));
        await store.InitializeAsync(CancellationToken.None);
        var created = new EngineStore(engine, dsn, store);
        _stores.Add(created);
        return created;
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.Store.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var directory in _directories)
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}

/// <summary>A migrated store of one engine and the settings that open it (for the CLI).</summary>
internal sealed record EngineStore(string Driver, string Dsn, SqlGatewayStore Store)
{
    /// <summary>The environment a CLI run needs to open this store.</summary>
    public Dictionary<string, string> Environment => new() { ["APIGATE_DATABASE_DRIVER"] = Driver, ["APIGATE_DATABASE_DSN"] = Dsn };

    /// <summary>Runs the apigate CLI in-process against this store.</summary>
    public Task<CliResult> CliAsync(params string[] args) => CliRunner.RunAsync(Environment, args);

    /// <summary>Runs the apigate CLI in-process against this store, <c>store copy</c> waiting <paramref name="copyLockTimeout"/> for a target's locks.</summary>
    public Task<CliResult> CliAsync(TimeSpan copyLockTimeout, params string[] args) => CliRunner.RunAsync(Environment, copyLockTimeout, args);

    /// <summary>A connection of the test's own to the store's database (for what no store method or command reads).</summary>
    public async Task<System.Data.Common.DbConnection> OpenRawAsync()
    {
        System.Data.Common.DbConnection connection = Driver == GatewayStores.Postgres
            ? new Npgsql.NpgsqlConnection(Dsn)
            : new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + Dsn);
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>
    /// Runs a script of statements (<paramref name="sql"/>) on a connection of the test's own, then empties SQLite's
    /// connection pools, so that a store opened next sees the schema the script left, not a pooled connection's.
    /// </summary>
    public async Task RunScriptAsync(string sql)
    {
        await ExecuteRawAsync(sql);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
    }

    /// <summary>Whether the store's database holds an index named <paramref name="name"/> (in the store's schema).</summary>
    public async Task<bool> IndexExistsAsync(string name)
    {
        await using var connection = await OpenRawAsync();
        var sql = Driver == GatewayStores.Postgres
            ? "SELECT COUNT(*) FROM pg_indexes WHERE indexname = @Name AND schemaname = current_schema()"
            : "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = @Name";
        return await Dapper.SqlMapper.ExecuteScalarAsync<long>(connection, sql, new { Name = name }) == 1;
    }

    /// <summary>Runs <paramref name="sql"/> on a connection of the test's own (<see cref="OpenRawAsync"/>); the rows it changed.</summary>
    public async Task<int> ExecuteRawAsync(string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = await OpenRawAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        return await command.ExecuteNonQueryAsync();
    }
}
