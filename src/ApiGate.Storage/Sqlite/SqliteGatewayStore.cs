using System.Globalization;
using System.Text.Json;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Identity;
using ApiGate.Core.Routing;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using ApiGate.Core.Upstreams;
using ApiGate.Storage.Secrets;
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
    private readonly SqliteTable<UpstreamDefinition> _upstreams;
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
        _upstreams = new SqliteTable<UpstreamDefinition>(
            "upstreams",
            "id, name, slug, description, base_url, timeout_ms, max_idle_conns, idle_conn_timeout_ms, max_conns, auth_type, auth_header, auth_value, enabled, created_at, updated_at, " +
            "targets, lb_policy, hash_on, health_check, http_version",
            "slug",
            BindUpstream,
            r => new UpstreamDefinition
            {
                Id = r.GetString(0),
                Name = r.GetString(1),
                Slug = r.GetString(2),
                Description = r.GetString(3),
                BaseUrl = r.GetString(4),
                TimeoutMs = r.IsDBNull(5) ? null : r.GetInt32(5),
                MaxIdleConns = r.GetInt32(6),
                IdleConnTimeoutMs = r.GetInt32(7),
                MaxConns = r.GetInt32(8),
                AuthType = Enum<UpstreamAuthType>(r.GetString(9)),
                AuthHeader = r.GetString(10),
                AuthValue = _secrets.Unprotect(r.GetString(11)),
                Enabled = r.GetBoolean(12),
                CreatedAt = Time(r.GetString(13)),
                UpdatedAt = Time(r.GetString(14)),
                Targets = UpstreamColumns.Targets(r.GetString(15), r.GetString(4)),
                LbPolicy = Enum<LoadBalancingPolicy>(r.GetString(16)),
                HashOn = r.GetString(17),
                HealthCheck = UpstreamColumns.HealthCheck(r.GetString(18)),
                HttpVersion = UpstreamColumns.HttpVersion(r.GetString(19)),
            });
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
            if (await ScalarAsync(connection, transaction, "SELECT COUNT(*) FROM schema_migrations WHERE version = $v", cancellationToken, ("$v", version)) > 0)
            {
                await transaction.RollbackAsync(cancellationToken);
                continue;
            }

            await ExecuteAsync(connection, transaction, sql, cancellationToken);
            await ExecuteAsync(connection, transaction, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($v, $n, $t)", cancellationToken,
                ("$v", version), ("$n", name), ("$t", Timestamp(DateTimeOffset.UtcNow)));
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
            await QueryAsync(connection, transaction, _upstreams, "", cancellationToken),
            await QueryAsync(connection, transaction, Routes, "", cancellationToken),
            await QueryAsync(connection, transaction, Plans, "", cancellationToken),
            await QueryAsync(connection, transaction, Entitlements, "", cancellationToken),
            await QueryAsync(connection, transaction, PlanEntitlements, "", cancellationToken));
        await transaction.CommitAsync(cancellationToken);
        return data;
    }

    public Task<IReadOnlyList<UpstreamDefinition>> ListUpstreamsAsync(CancellationToken cancellationToken) => ListAsync(_upstreams, "", cancellationToken);

    public Task<UpstreamDefinition?> FindUpstreamAsync(string idOrSlug, CancellationToken cancellationToken) =>
        FindAsync(_upstreams, "WHERE id = $ref OR slug = $ref", idOrSlug, cancellationToken);

    public Task CreateUpstreamAsync(UpstreamDefinition upstream, CancellationToken cancellationToken) =>
        WriteAsync(_upstreams.Insert, p => _upstreams.Bind(p, upstream), Duplicate("name", $"an upstream named '{upstream.Name}' already exists"), cancellationToken);

    public Task UpdateUpstreamAsync(UpstreamDefinition upstream, CancellationToken cancellationToken) =>
        WriteAsync(_upstreams.Update, p => _upstreams.Bind(p, upstream), Duplicate("name", $"an upstream named '{upstream.Name}' already exists"), cancellationToken);

    public Task DeleteUpstreamAsync(string id, CancellationToken cancellationToken) =>
        DeleteGuardedAsync("upstreams", id, "SELECT slug FROM routes WHERE upstream_id = $ref ORDER BY slug",
            users => new StoreConflictException("upstream", $"upstream is used by route(s) {string.Join(", ", users)}: delete or re-point them first"),
            [], cancellationToken);

    public Task<IReadOnlyList<RouteDefinition>> ListRoutesAsync(CancellationToken cancellationToken) => ListAsync(Routes, "", cancellationToken);

    public Task<RouteDefinition?> FindRouteAsync(string idOrSlug, CancellationToken cancellationToken) =>
        FindAsync(Routes, "WHERE id = $ref OR slug = $ref", idOrSlug, cancellationToken);

    public Task CreateRouteAsync(RouteDefinition route, CancellationToken cancellationToken) =>
        WriteAsync(Routes.Insert, p => Routes.Bind(p, route), Duplicate("name", $"a route named '{route.Name}' already exists"), cancellationToken);

    public Task UpdateRouteAsync(RouteDefinition route, CancellationToken cancellationToken) =>
        WriteAsync(Routes.Update, p => Routes.Bind(p, route), Duplicate("name", $"a route named '{route.Name}' already exists"), cancellationToken);

    public Task DeleteRouteAsync(string id, CancellationToken cancellationToken) =>
        WriteAsync("DELETE FROM routes WHERE id = $id", p => p.AddWithValue("$id", id), null, cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static readonly SqliteTable<RouteDefinition> Routes = new(
        "routes",
        "id, name, slug, description, host_pattern, host_match_type, path_pattern, match_type, methods, headers, upstream_id, path_rewrite, " +
        "method_override, request_transform, response_transform, protocol, metering_mode, metering_expr, auth_required, priority, enabled, created_at, updated_at",
        "priority DESC, slug",
        (p, r) =>
        {
            p.AddWithValue("$id", r.Id);
            p.AddWithValue("$name", r.Name);
            p.AddWithValue("$slug", r.Slug);
            p.AddWithValue("$description", r.Description);
            p.AddWithValue("$host_pattern", r.HostPattern);
            p.AddWithValue("$host_match_type", WireNames.Of(r.HostMatchType));
            p.AddWithValue("$path_pattern", r.PathPattern);
            p.AddWithValue("$match_type", WireNames.Of(r.MatchType));
            p.AddWithValue("$methods", string.Join(',', r.Methods));
            p.AddWithValue("$headers", JsonSerializer.Serialize(r.Headers));
            p.AddWithValue("$upstream_id", (object?)r.UpstreamId ?? DBNull.Value);
            p.AddWithValue("$path_rewrite", r.PathRewrite);
            p.AddWithValue("$method_override", r.MethodOverride);
            p.AddWithValue("$request_transform", r.RequestTransform);
            p.AddWithValue("$response_transform", r.ResponseTransform);
            p.AddWithValue("$protocol", WireNames.Of(r.Protocol));
            p.AddWithValue("$metering_mode", WireNames.Of(r.MeteringMode));
            p.AddWithValue("$metering_expr", r.MeteringExpr);
            p.AddWithValue("$auth_required", r.AuthRequired);
            p.AddWithValue("$priority", r.Priority);
            p.AddWithValue("$enabled", r.Enabled);
            p.AddWithValue("$created_at", Timestamp(r.CreatedAt));
            p.AddWithValue("$updated_at", Timestamp(r.UpdatedAt));
        },
        r =>
        {
            var methods = r.GetString(8);
            return new RouteDefinition
            {
                Id = r.GetString(0),
                Name = r.GetString(1),
                Slug = r.GetString(2),
                Description = r.GetString(3),
                HostPattern = r.GetString(4),
                HostMatchType = Enum<HostMatchType>(r.GetString(5)),
                PathPattern = r.GetString(6),
                MatchType = Enum<PathMatchType>(r.GetString(7)),
                Methods = methods.Length == 0 ? [] : methods.Split(','),
                Headers = JsonSerializer.Deserialize<Dictionary<string, string>>(r.GetString(9)) ?? [],
                UpstreamId = r.IsDBNull(10) ? null : r.GetString(10),
                PathRewrite = r.GetString(11),
                MethodOverride = r.GetString(12),
                RequestTransform = r.GetString(13),
                ResponseTransform = r.GetString(14),
                Protocol = Enum<RouteProtocol>(r.GetString(15)),
                MeteringMode = Enum<MeteringMode>(r.GetString(16)),
                MeteringExpr = r.GetString(17),
                AuthRequired = r.GetBoolean(18),
                Priority = r.GetInt32(19),
                Enabled = r.GetBoolean(20),
                CreatedAt = Time(r.GetString(21)),
                UpdatedAt = Time(r.GetString(22)),
            };
        });

    private void BindUpstream(SqliteParameterCollection p, UpstreamDefinition u)
    {
        p.AddWithValue("$id", u.Id);
        p.AddWithValue("$name", u.Name);
        p.AddWithValue("$slug", u.Slug);
        p.AddWithValue("$description", u.Description);
        p.AddWithValue("$base_url", u.BaseUrl);
        p.AddWithValue("$timeout_ms", (object?)u.TimeoutMs ?? DBNull.Value);
        p.AddWithValue("$max_idle_conns", u.MaxIdleConns);
        p.AddWithValue("$idle_conn_timeout_ms", u.IdleConnTimeoutMs);
        p.AddWithValue("$max_conns", u.MaxConns);
        p.AddWithValue("$auth_type", WireNames.Of(u.AuthType));
        p.AddWithValue("$auth_header", u.AuthHeader);
        p.AddWithValue("$auth_value", _secrets.Protect(u.AuthValue));
        p.AddWithValue("$enabled", u.Enabled);
        p.AddWithValue("$created_at", Timestamp(u.CreatedAt));
        p.AddWithValue("$updated_at", Timestamp(u.UpdatedAt));
        UpstreamColumns.Bind(p, u);
    }

    // ---- plumbing shared by every table ----

    private async Task<IReadOnlyList<T>> ListAsync<T>(SqliteTable<T> table, string where, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await QueryAsync(connection, null, table, where, cancellationToken, parameters);
    }

    private async Task<T?> FindAsync<T>(SqliteTable<T> table, string where, string reference, CancellationToken cancellationToken)
        where T : class
    {
        var found = await ListAsync(table, where, cancellationToken, ("$ref", reference));
        return found.Count > 0 ? found[0] : null;
    }

    private static Task<List<T>> QueryAsync<T>(
        SqliteConnection connection, SqliteTransaction? transaction, SqliteTable<T> table, string where, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters) =>
        QueryAsync(connection, transaction, table.Select(where), table.Map, cancellationToken, parameters);

    /// <summary>Runs a SELECT and maps every row.</summary>
    private static async Task<List<T>> QueryAsync<T>(
        SqliteConnection connection, SqliteTransaction? transaction, string sql, Func<SqliteDataReader, T> map, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        var result = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(map(reader));
        }

        return result;
    }

    /// <summary>One statement in a write transaction that also bumps the config version; a constraint violation becomes a conflict.</summary>
    /// <param name="configuration">
    /// True for configuration rows (the write bumps <c>config_version</c> in the same transaction, so running gateways
    /// reload); false for credentials and bookkeeping that snapshots do not contain.
    /// </param>
    private async Task WriteAsync(string sql, Action<SqliteParameterCollection> bind, StoreConflictException? onConstraint, CancellationToken cancellationToken, bool configuration = true)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = BeginWrite(connection);
        await using (var command = Command(connection, transaction, sql))
        {
            bind(command.Parameters);
            try
            {
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 19 /* SQLITE_CONSTRAINT */)
            {
                throw onConstraint ?? new StoreConflictException("", ex.Message);
            }
        }

        if (configuration)
        {
            await BumpVersionAsync(connection, transaction, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Deletes a row unless <paramref name="guardSql"/> (with <c>$ref</c> = id) finds dependents, after running
    /// <paramref name="cascade"/> statements (with <c>$id</c>) in the same transaction.
    /// </summary>
    private async Task DeleteGuardedAsync(
        string table, string id, string? guardSql, Func<List<string>, StoreConflictException>? conflict, string[] cascade, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = BeginWrite(connection);
        if (guardSql is not null)
        {
            var dependents = await QueryAsync(connection, transaction, guardSql, r => r.GetString(0), cancellationToken, ("$ref", id));
            if (dependents.Count > 0)
            {
                throw conflict!(dependents);
            }
        }

        foreach (var sql in cascade)
        {
            await ExecuteAsync(connection, transaction, sql, cancellationToken, ("$id", id));
        }

        await ExecuteAsync(connection, transaction, $"DELETE FROM {table} WHERE id = $id", cancellationToken, ("$id", id));
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

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    private static async Task<int> ExecuteAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<long> ScalarAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken) ?? 0L, CultureInfo.InvariantCulture);
    }

    private static Task BumpVersionAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "UPDATE config_version SET version = version + 1 WHERE id = 1", cancellationToken);

    private static StoreConflictException Duplicate(string field, string message) => new(field, message);

    private static TEnum Enum<TEnum>(string text)
        where TEnum : struct, Enum =>
        WireNames.TryParse<TEnum>(text, out var value) ? value : throw new InvalidDataException($"stored value '{text}' is not a valid {typeof(TEnum).Name}");

    private static string Timestamp(DateTimeOffset value) => value.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    private static object TimestampOrNull(DateTimeOffset? value) => value is { } v ? Timestamp(v) : DBNull.Value;

    private static DateTimeOffset Time(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    private static DateTimeOffset? TimeOrNull(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : Time(reader.GetString(ordinal));
}
