using ApiGate.Core.Routing;
using ApiGate.Core.Storage;
using ApiGate.Core.Upstreams;
using ApiGate.Storage.Rows;
using ApiGate.Storage.Secrets;
using Dapper;
using Microsoft.Data.Sqlite;

namespace ApiGate.Storage.Sqlite;

/// <summary>
/// The embedded default store: one SQLite file in WAL mode, so a CLI in another process can write while the gateway
/// reads. Every config write runs in a transaction that also bumps <c>config_version</c>.
/// </summary>
public sealed partial class SqliteGatewayStore : IGatewayStore
{
    /// <summary>How long a write waits for the database lock by default (the CLI's patience with a busy gateway or another CLI).</summary>
    public static readonly TimeSpan DefaultBusyTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The settings that choose the store, named in error messages.</summary>
    public const string Setting = "APIGATE_DATABASE_DSN / --database";

    private readonly string _connectionString;
    private readonly string _createConnectionString;
    private readonly bool _inMemory;
    private readonly SecretProtector _secrets;
    private FileIdentity? _opened;

    /// <param name="dsn">A file path (<c>apigate.db</c>) or a full SQLite connection string (<c>Data Source=…</c>).</param>
    /// <param name="secrets">Encrypts upstream credentials at rest.</param>
    /// <param name="busyTimeout">
    /// How long a write waits for the database lock before it fails with <see cref="StoreBusyException"/> (whole
    /// seconds, at least one); default <see cref="DefaultBusyTimeout"/>.
    /// </param>
    public SqliteGatewayStore(string dsn, SecretProtector secrets, TimeSpan? busyTimeout = null)
    {
        var builder = dsn.Contains('=', StringComparison.Ordinal)
            ? new SqliteConnectionStringBuilder(dsn)
            : new SqliteConnectionStringBuilder { DataSource = dsn };
        builder.ForeignKeys = true;
        builder.DefaultTimeout = (int)Math.Max(1, Math.Ceiling((busyTimeout ?? DefaultBusyTimeout).TotalSeconds));
        builder.Pooling = true;
        BusyTimeout = TimeSpan.FromSeconds(builder.DefaultTimeout);
        _inMemory = builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:";
        _createConnectionString = builder.ToString();
        if (!_inMemory && builder.Mode == SqliteOpenMode.ReadWriteCreate)
        {
            // Only InitializeAsync creates the file. Afterwards a missing file is an error, not a new empty store
            // that would split the gateway's data in two (old connections on the deleted file, new ones on a fresh one).
            builder.Mode = SqliteOpenMode.ReadWrite;
        }

        _connectionString = builder.ToString();
        DataSource = builder.DataSource;
        Location = _inMemory ? builder.DataSource : Path.GetFullPath(builder.DataSource);
        _secrets = secrets;
        RowMapping.Register();
    }

    /// <summary>The database file, as configured.</summary>
    public string DataSource { get; }

    public string Location { get; }

    public bool Created { get; private set; }

    /// <summary>How long a write waits for the database lock (the connection's default timeout).</summary>
    public TimeSpan BusyTimeout { get; }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var existed = _inMemory || File.Exists(Location);
        if (!_inMemory)
        {
            try
            {
                var directory = Path.GetDirectoryName(Location);
                if (!string.IsNullOrEmpty(directory))
                {
                    Directory.CreateDirectory(directory);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new StoreUnavailableException($"cannot create the directory of the store at {Location} ({Setting}): {ex.Message}", ex);
            }
        }

        try
        {
            await MigrateAsync(cancellationToken);
        }
        catch (SqliteException ex) when (!IsBusy(ex))
        {
            throw CannotOpen(ex);
        }

        Created = !existed;
        _opened = _inMemory ? null : StoreFile.Identify(Location);
    }

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection(_createConnectionString);
        await connection.OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", cancellationToken);
        await ExecuteAsync(connection, null,
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);",
            cancellationToken);

        foreach (var (version, name, sql) in SqliteMigrations.All)
        {
            // BEGIN IMMEDIATE: two processes starting together must not both apply a migration.
            await using var transaction = BeginWrite(connection);
            if (await ScalarAsync(connection, transaction, "SELECT COUNT(*) FROM schema_migrations WHERE version = @Version", cancellationToken, new { Version = version }) > 0)
            {
                await transaction.RollbackAsync(cancellationToken);
                continue;
            }

            await ExecuteAsync(connection, transaction, sql, cancellationToken);
            await ExecuteAsync(connection, transaction, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@Version, @Name, @At)", cancellationToken,
                new { Version = version, Name = name, At = StoredValues.Time(DateTimeOffset.UtcNow) });
            await transaction.CommitAsync(cancellationToken);
        }
    }

    public async Task<StoreCheck> CheckAsync(CancellationToken cancellationToken)
    {
        if (!_inMemory && _opened is { } opened)
        {
            var current = StoreFile.Identify(Location);
            if (current is null)
            {
                return new StoreCheck("unreachable",
                    $"no store file at {Location} any more ({Setting}): it was deleted or moved after the gateway opened it, and the gateway " +
                    "is still running on the old file; put it back, or restart the gateway to open the store at that path");
            }

            if (opened.IsKnown && current.Value.IsKnown && current.Value != opened)
            {
                return new StoreCheck("replaced",
                    $"the file at {Location} ({Setting}) is not the store the gateway opened: it was replaced after start, and the gateway " +
                    "is still running on the old file; restart the gateway to serve the new one");
            }
        }

        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            return await ScalarAsync(connection, null, "SELECT version FROM config_version WHERE id = 1", cancellationToken) > 0
                ? StoreCheck.Ok
                : new StoreCheck("unreachable", $"the store at {Location} ({Setting}) has no config version row");
        }
        catch (StoreUnavailableException ex)
        {
            return new StoreCheck("unreachable", ex.Message);
        }
        catch (SqliteException ex)
        {
            return new StoreCheck("unreachable", $"the store at {Location} ({Setting}) does not answer: {Reason(ex)}");
        }
    }

    public async Task<long> GetConfigVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ScalarAsync(connection, null, "SELECT version FROM config_version WHERE id = 1", cancellationToken);
    }

    public async Task<ConfigData> LoadConfigAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: true);
        var version = await ScalarAsync(connection, transaction, "SELECT version FROM config_version WHERE id = 1", cancellationToken);
        var data = new ConfigData(
            version,
            (await QueryAsync<UpstreamRow>(connection, transaction, Upstreams.Select(""), null, cancellationToken)).Select(ToUpstream).ToList(),
            (await QueryAsync<RouteRow>(connection, transaction, Routes.Select(""), null, cancellationToken)).Select(r => r.ToDefinition()).ToList(),
            (await QueryAsync<PlanRow>(connection, transaction, Plans.Select(""), null, cancellationToken)).Select(r => r.ToDefinition()).ToList(),
            (await QueryAsync<EntitlementRow>(connection, transaction, Entitlements.Select(""), null, cancellationToken)).Select(r => r.ToDefinition()).ToList(),
            (await QueryAsync<PlanEntitlementRow>(connection, transaction, PlanEntitlements.Select(""), null, cancellationToken)).Select(r => r.ToDefinition()).ToList());
        await transaction.CommitAsync(cancellationToken);
        return data;
    }

    public Task<IReadOnlyList<UpstreamDefinition>> ListUpstreamsAsync(CancellationToken cancellationToken) =>
        ListAsync(Upstreams, ToUpstream, "", null, cancellationToken);

    public Task<UpstreamDefinition?> FindUpstreamAsync(string idOrSlug, CancellationToken cancellationToken) =>
        FindAsync(Upstreams, ToUpstream, "WHERE id = @Ref OR slug = @Ref", idOrSlug, cancellationToken);

    public Task CreateUpstreamAsync(UpstreamDefinition upstream, CancellationToken cancellationToken) =>
        WriteAsync(Upstreams.Insert, UpstreamRow.From(upstream, _secrets.Protect), Duplicate("name", $"an upstream named '{upstream.Name}' already exists"), cancellationToken);

    public Task UpdateUpstreamAsync(UpstreamDefinition upstream, CancellationToken cancellationToken) =>
        WriteAsync(Upstreams.Update, UpstreamRow.From(upstream, _secrets.Protect), Duplicate("name", $"an upstream named '{upstream.Name}' already exists"), cancellationToken);

    public Task DeleteUpstreamAsync(string id, CancellationToken cancellationToken) =>
        DeleteGuardedAsync("upstreams", id, "SELECT slug FROM routes WHERE upstream_id = @Ref ORDER BY slug",
            users => new StoreConflictException("upstream", $"upstream is used by route(s) {string.Join(", ", users)}: delete or re-point them first"),
            [], cancellationToken);

    public Task<IReadOnlyList<RouteDefinition>> ListRoutesAsync(CancellationToken cancellationToken) => ListAsync(Routes, r => r.ToDefinition(), "", null, cancellationToken);

    public Task<RouteDefinition?> FindRouteAsync(string idOrSlug, CancellationToken cancellationToken) =>
        FindAsync(Routes, r => r.ToDefinition(), "WHERE id = @Ref OR slug = @Ref", idOrSlug, cancellationToken);

    public Task CreateRouteAsync(RouteDefinition route, CancellationToken cancellationToken) =>
        WriteAsync(Routes.Insert, RouteRow.From(route), Duplicate("name", $"a route named '{route.Name}' already exists"), cancellationToken);

    public Task UpdateRouteAsync(RouteDefinition route, CancellationToken cancellationToken) =>
        WriteAsync(Routes.Update, RouteRow.From(route), Duplicate("name", $"a route named '{route.Name}' already exists"), cancellationToken);

    public Task DeleteRouteAsync(string id, CancellationToken cancellationToken) =>
        WriteAsync("DELETE FROM routes WHERE id = @Id", new { Id = id }, null, cancellationToken);

    public ValueTask DisposeAsync()
    {
        DisposeUsageWriter();
        return ValueTask.CompletedTask;
    }

    private static readonly RowTable<UpstreamRow> Upstreams = new("upstreams", "slug");

    private static readonly RowTable<RouteRow> Routes = new("routes", "priority DESC, slug");

    private UpstreamDefinition ToUpstream(UpstreamRow row) => row.ToDefinition(_secrets.Unprotect);

    // ---- plumbing shared by every table ----

    /// <summary>The rows of <paramref name="table"/> that <paramref name="where"/> selects, converted.</summary>
    private async Task<IReadOnlyList<T>> ListAsync<TRow, T>(
        RowTable<TRow> table, Func<TRow, T> convert, string where, object? parameters, CancellationToken cancellationToken)
        where TRow : class
    {
        await using var connection = await OpenAsync(cancellationToken);
        var rows = await QueryAsync<TRow>(connection, null, table.Select(where), parameters, cancellationToken);
        return rows.Select(convert).ToList();
    }

    /// <summary>The first row <paramref name="where"/> selects with <c>@Ref</c> = <paramref name="reference"/>, or null.</summary>
    private async Task<T?> FindAsync<TRow, T>(RowTable<TRow> table, Func<TRow, T> convert, string where, string reference, CancellationToken cancellationToken)
        where TRow : class
        where T : class
    {
        var found = await ListAsync(table, convert, where, new { Ref = reference }, cancellationToken);
        return found.Count > 0 ? found[0] : null;
    }

    /// <summary>Runs a SELECT; Dapper maps each row to <typeparamref name="TRow"/> by column name.</summary>
    private static async Task<IReadOnlyList<TRow>> QueryAsync<TRow>(
        SqliteConnection connection, SqliteTransaction? transaction, string sql, object? parameters, CancellationToken cancellationToken) =>
        (await connection.QueryAsync<TRow>(new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken))).AsList();

    /// <summary>One statement in a write transaction that also bumps the config version; a constraint violation becomes a conflict.</summary>
    /// <param name="configuration">
    /// True for configuration rows (the write bumps <c>config_version</c> in the same transaction, so running gateways
    /// reload); false for credentials and bookkeeping that snapshots do not contain.
    /// </param>
    private async Task WriteAsync(string sql, object parameters, StoreConflictException? onConstraint, CancellationToken cancellationToken, bool configuration = true)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = BeginWrite(connection);
        try
        {
            await ExecuteAsync(connection, transaction, sql, cancellationToken, parameters);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 19 /* SQLITE_CONSTRAINT */)
        {
            throw onConstraint ?? new StoreConflictException("", ex.Message);
        }

        if (configuration)
        {
            await BumpVersionAsync(connection, transaction, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Deletes a row unless <paramref name="guardSql"/> (with <c>@Ref</c> = id) finds dependents, after running
    /// <paramref name="cascade"/> statements (with <c>@Id</c>) in the same transaction.
    /// </summary>
    private async Task DeleteGuardedAsync(
        string table, string id, string? guardSql, Func<List<string>, StoreConflictException>? conflict, string[] cascade, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = BeginWrite(connection);
        if (guardSql is not null)
        {
            var dependents = (await QueryAsync<string>(connection, transaction, guardSql, new { Ref = id }, cancellationToken)).ToList();
            if (dependents.Count > 0)
            {
                throw conflict!(dependents);
            }
        }

        foreach (var sql in cascade)
        {
            await ExecuteAsync(connection, transaction, sql, cancellationToken, new { Id = id });
        }

        await ExecuteAsync(connection, transaction, $"DELETE FROM {table} WHERE id = @Id", cancellationToken, new { Id = id });
        await BumpVersionAsync(connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
        }
        catch (SqliteException ex)
        {
            await connection.DisposeAsync();
            throw CannotOpen(ex);
        }

        return connection;
    }

    /// <summary>
    /// BEGIN IMMEDIATE: takes the write lock now, waiting up to <see cref="BusyTimeout"/> for it. In WAL mode a write
    /// transaction needs no other lock, so this is the only place a write waits for another writer.
    /// </summary>
    private SqliteTransaction BeginWrite(SqliteConnection connection)
    {
        try
        {
            return connection.BeginTransaction(deferred: false);
        }
        catch (SqliteException ex) when (IsBusy(ex))
        {
            throw new StoreBusyException(
                $"the store at {Location} ({Setting}) is locked by another connection or process: gave up after waiting {BusyTimeout.TotalSeconds:0} s for it ({Reason(ex)})", ex);
        }
    }

    private static bool IsBusy(SqliteException ex) => ex.SqliteErrorCode is 5 /* SQLITE_BUSY */ or 6 /* SQLITE_LOCKED */;

    private StoreUnavailableException CannotOpen(SqliteException ex) =>
        new($"cannot open the store at {Location} ({Setting}): {Reason(ex)}", ex);

    /// <summary>SQLite's own words without the driver's "SQLite Error 14: '…'" wrapping.</summary>
    private static string Reason(SqliteException ex)
    {
        var message = ex.Message;
        var first = message.IndexOf('\'');
        var last = message.LastIndexOf('\'');
        return first >= 0 && last > first ? message[(first + 1)..last] : message;
    }

    private static Task<int> ExecuteAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken, object? parameters = null) =>
        connection.ExecuteAsync(new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken));

    private static Task<long> ScalarAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken, object? parameters = null) =>
        connection.ExecuteScalarAsync<long>(new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken));

    private static Task BumpVersionAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "UPDATE config_version SET version = version + 1 WHERE id = 1", cancellationToken);

    private static StoreConflictException Duplicate(string field, string message) => new(field, message);
}
