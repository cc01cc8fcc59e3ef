using System.Globalization;
using System.Text.Json;
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
public sealed class SqliteGatewayStore : IGatewayStore
{
    private const string UpstreamColumns =
        "id, name, slug, description, base_url, timeout_ms, max_idle_conns, idle_conn_timeout_ms, max_conns, auth_type, auth_header, auth_value, enabled, created_at, updated_at";

    private const string RouteColumns =
        "id, name, slug, description, host_pattern, host_match_type, path_pattern, match_type, methods, headers, upstream_id, path_rewrite, " +
        "method_override, request_transform, response_transform, protocol, metering_mode, metering_expr, auth_required, priority, enabled, created_at, updated_at";

    private readonly string _connectionString;
    private readonly SecretProtector _secrets;

    /// <param name="dsn">A file path (<c>apigate.db</c>) or a full SQLite connection string (<c>Data Source=…</c>).</param>
    public SqliteGatewayStore(string dsn, SecretProtector secrets)
    {
        var builder = dsn.Contains('=', StringComparison.Ordinal)
            ? new SqliteConnectionStringBuilder(dsn)
            : new SqliteConnectionStringBuilder { DataSource = dsn };
        builder.ForeignKeys = true;
        builder.DefaultTimeout = 30;
        builder.Pooling = true;
        _connectionString = builder.ToString();
        DataSource = builder.DataSource;
        _secrets = secrets;
    }

    /// <summary>The database file.</summary>
    public string DataSource { get; }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(DataSource));
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", cancellationToken);
        await ExecuteAsync(connection, null,
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);",
            cancellationToken);

        foreach (var (version, name, sql) in SqliteMigrations.All)
        {
            // BEGIN IMMEDIATE: two processes starting together must not both apply a migration.
            await using var transaction = connection.BeginTransaction(deferred: false);
            await using (var check = Command(connection, transaction, "SELECT COUNT(*) FROM schema_migrations WHERE version = $v"))
            {
                check.Parameters.AddWithValue("$v", version);
                if (Convert.ToInt64(await check.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture) > 0)
                {
                    await transaction.RollbackAsync(cancellationToken);
                    continue;
                }
            }

            await ExecuteAsync(connection, transaction, sql, cancellationToken);
            await using (var record = Command(connection, transaction, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($v, $n, $t)"))
            {
                record.Parameters.AddWithValue("$v", version);
                record.Parameters.AddWithValue("$n", name);
                record.Parameters.AddWithValue("$t", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
                await record.ExecuteNonQueryAsync(cancellationToken);
            }

            await transaction.CommitAsync(cancellationToken);
        }
    }

    /// <summary>The highest applied migration.</summary>
    public async Task<int> GetSchemaVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var command = Command(connection, null, "SELECT version FROM config_version WHERE id = 1");
            return await command.ExecuteScalarAsync(cancellationToken) is not null;
        }
        catch (SqliteException)
        {
            return false;
        }
    }

    public async Task<long> GetConfigVersionAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadVersionAsync(connection, null, cancellationToken);
    }

    public async Task<ConfigData> LoadConfigAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: true);
        var version = await ReadVersionAsync(connection, transaction, cancellationToken);
        var upstreams = await QueryUpstreamsAsync(connection, transaction, "", null, cancellationToken);
        var routes = await QueryRoutesAsync(connection, transaction, "", null, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new ConfigData(version, upstreams, routes);
    }

    public async Task<IReadOnlyList<UpstreamDefinition>> ListUpstreamsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await QueryUpstreamsAsync(connection, null, "", null, cancellationToken);
    }

    public async Task<UpstreamDefinition?> FindUpstreamAsync(string idOrSlug, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var found = await QueryUpstreamsAsync(connection, null, "WHERE id = $ref OR slug = $ref", idOrSlug, cancellationToken);
        return found.Count > 0 ? found[0] : null;
    }

    public Task CreateUpstreamAsync(UpstreamDefinition upstream, CancellationToken cancellationToken) =>
        WriteAsync($"INSERT INTO upstreams ({UpstreamColumns}) VALUES ({Parameters(UpstreamColumns)})",
            command => BindUpstream(command, upstream), "name", $"an upstream named '{upstream.Name}' already exists", cancellationToken);

    public Task UpdateUpstreamAsync(UpstreamDefinition upstream, CancellationToken cancellationToken) =>
        WriteAsync($"UPDATE upstreams SET {Assignments(UpstreamColumns)} WHERE id = $id",
            command => BindUpstream(command, upstream), "name", $"an upstream named '{upstream.Name}' already exists", cancellationToken);

    public async Task DeleteUpstreamAsync(string id, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        var users = await QueryAsync(connection, transaction, "SELECT slug FROM routes WHERE upstream_id = $ref ORDER BY slug", id, r => r.GetString(0), cancellationToken);
        if (users.Count > 0)
        {
            throw new StoreConflictException("upstream", $"upstream is used by route(s) {string.Join(", ", users)}: delete or re-point them first");
        }

        await using (var delete = Command(connection, transaction, "DELETE FROM upstreams WHERE id = $id"))
        {
            delete.Parameters.AddWithValue("$id", id);
            await delete.ExecuteNonQueryAsync(cancellationToken);
        }

        await BumpVersionAsync(connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<RouteDefinition>> ListRoutesAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await QueryRoutesAsync(connection, null, "", null, cancellationToken);
    }

    public async Task<RouteDefinition?> FindRouteAsync(string idOrSlug, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var found = await QueryRoutesAsync(connection, null, "WHERE id = $ref OR slug = $ref", idOrSlug, cancellationToken);
        return found.Count > 0 ? found[0] : null;
    }

    public Task CreateRouteAsync(RouteDefinition route, CancellationToken cancellationToken) =>
        WriteAsync($"INSERT INTO routes ({RouteColumns}) VALUES ({Parameters(RouteColumns)})",
            command => BindRoute(command, route), "name", $"a route named '{route.Name}' already exists", cancellationToken);

    public Task UpdateRouteAsync(RouteDefinition route, CancellationToken cancellationToken) =>
        WriteAsync($"UPDATE routes SET {Assignments(RouteColumns)} WHERE id = $id",
            command => BindRoute(command, route), "name", $"a route named '{route.Name}' already exists", cancellationToken);

    public Task DeleteRouteAsync(string id, CancellationToken cancellationToken) =>
        WriteAsync("DELETE FROM routes WHERE id = $id", command => command.Parameters.AddWithValue("$id", id), "", "", cancellationToken);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private async Task WriteAsync(string sql, Action<SqliteCommand> bind, string conflictField, string conflictMessage, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: false);
        await using (var command = Command(connection, transaction, sql))
        {
            bind(command);
            try
            {
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 19 /* SQLITE_CONSTRAINT */)
            {
                throw new StoreConflictException(conflictField, conflictMessage.Length > 0 ? conflictMessage : ex.Message);
            }
        }

        await BumpVersionAsync(connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Transaction = transaction;
        return command;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<long> ReadVersionAsync(SqliteConnection connection, SqliteTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, "SELECT version FROM config_version WHERE id = 1");
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken), CultureInfo.InvariantCulture);
    }

    private static Task BumpVersionAsync(SqliteConnection connection, SqliteTransaction transaction, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "UPDATE config_version SET version = version + 1 WHERE id = 1", cancellationToken);

    private static string Parameters(string columns) => string.Join(", ", columns.Split(", ").Select(c => "$" + c));

    private static string Assignments(string columns) => string.Join(", ", columns.Split(", ").Skip(1).Select(c => c + " = $" + c));

    private void BindUpstream(SqliteCommand command, UpstreamDefinition u)
    {
        var p = command.Parameters;
        p.AddWithValue("$id", u.Id);
        p.AddWithValue("$name", u.Name);
        p.AddWithValue("$slug", u.Slug);
        p.AddWithValue("$description", u.Description);
        p.AddWithValue("$base_url", u.BaseUrl);
        p.AddWithValue("$timeout_ms", u.TimeoutMs is { } t ? t : DBNull.Value);
        p.AddWithValue("$max_idle_conns", u.MaxIdleConns);
        p.AddWithValue("$idle_conn_timeout_ms", u.IdleConnTimeoutMs);
        p.AddWithValue("$max_conns", u.MaxConns);
        p.AddWithValue("$auth_type", WireNames.Of(u.AuthType));
        p.AddWithValue("$auth_header", u.AuthHeader);
        p.AddWithValue("$auth_value", _secrets.Protect(u.AuthValue));
        p.AddWithValue("$enabled", u.Enabled);
        p.AddWithValue("$created_at", Timestamp(u.CreatedAt));
        p.AddWithValue("$updated_at", Timestamp(u.UpdatedAt));
    }

    private static void BindRoute(SqliteCommand command, RouteDefinition r)
    {
        var p = command.Parameters;
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
        p.AddWithValue("$upstream_id", r.UpstreamId is { } u ? u : DBNull.Value);
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
    }

    private Task<List<UpstreamDefinition>> QueryUpstreamsAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string where, string? reference, CancellationToken cancellationToken) =>
        QueryAsync(connection, transaction, $"SELECT {UpstreamColumns} FROM upstreams {where} ORDER BY slug", reference, reader => new UpstreamDefinition
        {
            Id = reader.GetString(0),
            Name = reader.GetString(1),
            Slug = reader.GetString(2),
            Description = reader.GetString(3),
            BaseUrl = reader.GetString(4),
            TimeoutMs = reader.IsDBNull(5) ? null : reader.GetInt32(5),
            MaxIdleConns = reader.GetInt32(6),
            IdleConnTimeoutMs = reader.GetInt32(7),
            MaxConns = reader.GetInt32(8),
            AuthType = Enum<UpstreamAuthType>(reader.GetString(9)),
            AuthHeader = reader.GetString(10),
            AuthValue = _secrets.Unprotect(reader.GetString(11)),
            Enabled = reader.GetBoolean(12),
            CreatedAt = ParseTimestamp(reader.GetString(13)),
            UpdatedAt = ParseTimestamp(reader.GetString(14)),
        }, cancellationToken);

    private static Task<List<RouteDefinition>> QueryRoutesAsync(
        SqliteConnection connection, SqliteTransaction? transaction, string where, string? reference, CancellationToken cancellationToken) =>
        QueryAsync(connection, transaction, $"SELECT {RouteColumns} FROM routes {where} ORDER BY priority DESC, slug", reference, reader =>
        {
            var methods = reader.GetString(8);
            return new RouteDefinition
            {
                Id = reader.GetString(0),
                Name = reader.GetString(1),
                Slug = reader.GetString(2),
                Description = reader.GetString(3),
                HostPattern = reader.GetString(4),
                HostMatchType = Enum<HostMatchType>(reader.GetString(5)),
                PathPattern = reader.GetString(6),
                MatchType = Enum<PathMatchType>(reader.GetString(7)),
                Methods = methods.Length == 0 ? [] : methods.Split(','),
                Headers = JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(9)) ?? [],
                UpstreamId = reader.IsDBNull(10) ? null : reader.GetString(10),
                PathRewrite = reader.GetString(11),
                MethodOverride = reader.GetString(12),
                RequestTransform = reader.GetString(13),
                ResponseTransform = reader.GetString(14),
                Protocol = Enum<RouteProtocol>(reader.GetString(15)),
                MeteringMode = Enum<MeteringMode>(reader.GetString(16)),
                MeteringExpr = reader.GetString(17),
                AuthRequired = reader.GetBoolean(18),
                Priority = reader.GetInt32(19),
                Enabled = reader.GetBoolean(20),
                CreatedAt = ParseTimestamp(reader.GetString(21)),
                UpdatedAt = ParseTimestamp(reader.GetString(22)),
            };
        }, cancellationToken);

    /// <summary>Runs a SELECT (optionally with a <c>$ref</c> parameter) and maps every row.</summary>
    private static async Task<List<T>> QueryAsync<T>(
        SqliteConnection connection, SqliteTransaction? transaction, string sql, string? reference, Func<SqliteDataReader, T> map, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, sql);
        if (reference is not null)
        {
            command.Parameters.AddWithValue("$ref", reference);
        }

        var result = new List<T>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(map(reader));
        }

        return result;
    }

    private static TEnum Enum<TEnum>(string text)
        where TEnum : struct, Enum =>
        WireNames.TryParse<TEnum>(text, out var value) ? value : throw new InvalidDataException($"stored value '{text}' is not a valid {typeof(TEnum).Name}");

    private static string Timestamp(DateTimeOffset value) => value.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTimestamp(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
}
