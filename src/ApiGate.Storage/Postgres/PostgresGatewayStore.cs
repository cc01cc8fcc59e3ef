using System.Data;
using System.Data.Common;
using ApiGate.Core.Storage;
using ApiGate.Core.Webhooks;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sql;
using Dapper;
using Npgsql;

namespace ApiGate.Storage.Postgres;

/// <summary>
/// The store for several gateway instances (SPEC §12): one PostgreSQL database shared by every gateway and CLI.
/// Same tables, SQL and behaviour as the SQLite store (<see cref="SqlGatewayStore"/>); connections come from one
/// <see cref="NpgsqlDataSource"/> pool and every call is asynchronous. Every config write bumps <c>config_version</c>
/// and NOTIFYs <see cref="ConfigChannel"/> in the same transaction, so listening gateways reload at once
/// (<see cref="ListenAsync"/>). Migrations run under an advisory lock, so instances may start together.
/// </summary>
public sealed partial class PostgresGatewayStore : SqlGatewayStore, IConfigChangeSignal
{
    /// <summary>The channel config changes are notified on (payload: the new config version).</summary>
    public const string ConfigChannel = "apigate_config";

    /// <summary>The advisory lock key migrations run under ("apigate" in ASCII): one migrating process at a time.</summary>
    internal const long MigrationLock = 0x61_70_69_67_61_74_65;

    /// <summary>The advisory lock plan writes take turns on (<see cref="LockPlansAsync"/>): "apigate" + "p".</summary>
    private const long PlansLock = 0x61_70_69_67_61_74_65_70;

    /// <summary>The advisory lock writes of entitlements and plans' values take turns on: "apigate" + "e".</summary>
    private const long EntitlementsLock = 0x61_70_69_67_61_74_65_65;

    /// <summary>The advisory lock changes of the stored settings take turns on: "apigate" + "s".</summary>
    private const long StoredSettingsLock = 0x61_70_69_67_61_74_65_73;

    /// <summary>The first key of the advisory locks identity links take turns on ("apig"; the second is a hash of the link).</summary>
    private const int IdentityLockClass = 0x61_70_69_67;

    /// <summary>Pause between two questions about a commit whose answer was lost (<see cref="CommittedAsync"/>).</summary>
    private static readonly TimeSpan CommitCheckPause = TimeSpan.FromMilliseconds(50);

    private readonly NpgsqlConnectionStringBuilder _settings;
    private readonly NpgsqlDataSource _dataSource;
    private readonly NpgsqlDataSource _listenSource;

    /// <summary>
    /// Why <paramref name="dsn"/> is not a PostgreSQL connection string or URL (without the setting's name or the
    /// password), or null: checked with the other settings so a malformed one is invalid input (exit 2), not a failure
    /// to open the store.
    /// </summary>
    public static string? DsnProblem(string dsn) => PostgresDsn.Problem(dsn);

    /// <param name="dsn">An Npgsql connection string or a <c>postgres://user:password@host:port/database</c> URL.</param>
    /// <param name="secrets">Encrypts upstream credentials at rest.</param>
    /// <exception cref="StoreUnavailableException">The DSN cannot be parsed (the message names the setting, never the password).</exception>
    public PostgresGatewayStore(string dsn, SecretProtector secrets)
        : base(secrets)
    {
        _settings = PostgresDsn.Parse(dsn);
        Location = PostgresDsn.Describe(_settings);
        _dataSource = NpgsqlDataSource.Create(_settings);
        // The listening connection is long-lived and outside the pool; keepalive queries notice a dead server while it waits.
        _listenSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(_settings.ConnectionString) { Pooling = false, KeepAlive = 5 });
    }

    /// <summary><c>postgres://user@host:port/database</c> (no password).</summary>
    public override string Location { get; }

    public override async Task InitializeAsync(CancellationToken cancellationToken)
    {
        // No command timeout while migrating: a migration that rewrites a large table (7 converts every usage event)
        // can run past Npgsql's 30 s default, and a start waiting on the lock waits for as long as that migration runs.
        // Cut short, the migration was rolled back and every later start failed the same way ("does not answer").
        await using var migrationSource = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(_settings.ConnectionString) { CommandTimeout = 0, Pooling = false });
        await using var connection = await OpenAsync(migrationSource, cancellationToken, starting: true);
        try
        {
            // Nor a server-side one: a statement_timeout or lock_timeout set for the role or the database (or in the DSN's
            // Options) cancelled the migration the same way, and the wait of a start behind another's migration. SET, not
            // the Options startup parameter: a pooler in session mode (PgBouncer) refuses that one.
            await ExecuteAsync(connection, null, "SET statement_timeout = 0; SET lock_timeout = 0", cancellationToken);
            await LockMigrationsAsync(connection, null, cancellationToken);
            try
            {
                Created = !await FirstValueAsync<bool>(connection, null, HasSchemaQuery, null, cancellationToken);
                if (Created && SchemaInCopy)
                {
                    MigrationsApplied = [];
                    SchemaVersion = PostgresMigrations.All[^1].Version;
                    return;
                }

                await ExecuteAsync(connection, null, "CREATE TABLE IF NOT EXISTS " + SchemaMigrationsTable, cancellationToken);
                var done = (await QueryAsync<int>(connection, null, "SELECT version FROM schema_migrations", null, cancellationToken)).ToHashSet();
                // Before anything is applied: a store a newer build migrated is refused as newer even where one of this
                // build's migrations is missing from it (a gap), not called older and migrated under that build.
                await RefuseNewerSchemaAsync(connection, PostgresMigrations.All[^1].Version, cancellationToken);
                if (done.Count > 0 && !MigrateExisting && PostgresMigrations.All.Any(m => !done.Contains(m.Version)))
                {
                    throw OlderSchema(done.Max(), PostgresMigrations.All[^1].Version);
                }

                var applied = new List<(int, string)>();
                foreach (var (version, name, sql) in PostgresMigrations.All)
                {
                    if (done.Contains(version))
                    {
                        continue;
                    }

                    await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                    await ApplyMigrationAsync(connection, transaction, version, name, sql, cancellationToken);
                    await transaction.CommitAsync(cancellationToken);
                    applied.Add((version, name));
                }

                await FillMissingEmailKeysAsync(connection, async ct => await connection.BeginTransactionAsync(ct), cancellationToken);
                MigrationsApplied = applied;
                SchemaVersion = await RefuseNewerSchemaAsync(connection, PostgresMigrations.All[^1].Version, cancellationToken);
            }
            finally
            {
                await ExecuteAsync(connection, null, "SELECT pg_advisory_unlock(@Key)", CancellationToken.None, new { Key = MigrationLock });
            }
        }
        catch (Exception ex) when (Translate(ex) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>Whether the store has a schema yet (its table of migrations).</summary>
    private const string HasSchemaQuery = "SELECT to_regclass('schema_migrations') IS NOT NULL";

    /// <summary>
    /// Every migration in the copy's transaction (DDL is transactional here): a copy that fails leaves the database or
    /// schema as empty as it found it. The migration lock is held until the transaction ends, so a gateway started on
    /// the new store meanwhile waits and then finds it migrated.
    /// </summary>
    private protected override async Task CreateSchemaInCopyAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        // A new store (Created) whose InitializeAsync left the schema to the copy.
        if (!(Created && SchemaInCopy))
        {
            return;
        }

        await LockMigrationsAsync(connection, transaction, cancellationToken);
        try
        {
            await CreateSchemaAsync(connection, transaction, HasSchemaQuery, PostgresMigrations.All, cancellationToken);
        }
        catch (PostgresException ex)
        {
            // This store is the copy's target, not the configured one Translate names: e.g. a role that may not create tables here.
            throw Refused(ex, "--to-dsn");
        }
    }

    /// <summary>
    /// Takes the migration lock, for the session (<paramref name="transaction"/> null) or the transaction. A start waits
    /// for it as long as another process's migration runs; a copy's target (<see cref="SqlGatewayStore.SchemaInCopy"/>)
    /// waits at most <see cref="CopyLockTimeout"/>, so a <c>migrate</c> that never ends does not hold the copy forever.
    /// </summary>
    private async Task LockMigrationsAsync(DbConnection connection, DbTransaction? transaction, CancellationToken cancellationToken)
    {
        var sql = transaction is null ? "SELECT pg_advisory_lock(@Key)" : "SELECT pg_advisory_xact_lock(@Key)";
        if (SchemaInCopy)
        {
            await LockWithinCopyTimeoutAsync(connection, transaction, sql, new { Key = MigrationLock }, seconds =>
                $"--to-dsn: another process held the migration lock of the store at {Location} for {seconds} s (an 'apigate migrate', " +
                "or a gateway starting on it, still migrating it?); nothing was copied: let it finish, then copy again", cancellationToken);
            return;
        }

        // Taken at once when free (almost always); else said once, then waited for: a start or a command that waited
        // silently for a session that never lets go (an 'apigate migrate' suspended with Ctrl+Z, an operator's psql)
        // looked hung, with nothing to say what it waited for or on whom.
        if (transaction is null && Waiting is { } waiting)
        {
            if (await FirstValueAsync<bool>(connection, null, "SELECT pg_try_advisory_lock(@Key)", new { Key = MigrationLock }, cancellationToken))
            {
                return; // taken once: the unlock after migrating lets go of it
            }

            waiting($"waiting for the migration lock of the store at {Location} ({PostgresDsn.Setting}), held by another session " +
                $"({await MigrationLockHolderAsync(connection, cancellationToken)}): an 'apigate migrate', or a gateway starting on this store, " +
                "still migrating it? This goes on once that session lets go of it");
        }

        await ExecuteAsync(connection, transaction, sql, cancellationToken, new { Key = MigrationLock });
    }

    /// <summary>
    /// Who holds the migration lock, as far as this role may see (another role's session shows its process id alone):
    /// <c>pid 4242, application 'apigate', from 10.0.0.7, connected 3 min ago, active</c>. Never a query's text.
    /// </summary>
    private static async Task<string> MigrationLockHolderAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        // A bigint advisory key is kept as its high and low 32 bits (classid, objid), with objsubid 1.
        var holders = await QueryAsync<(int Pid, string? Application, string? Address, string? State, long? Seconds)>(connection, null, """
            SELECT a.pid, a.application_name, host(a.client_addr), a.state, EXTRACT(EPOCH FROM now() - a.backend_start)::bigint
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.classid = (@Key >> 32)::oid AND l.objid = (@Key & 4294967295)::oid
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """, new { Key = MigrationLock }, cancellationToken);
        if (holders.Count == 0)
        {
            return "it has just let go";
        }

        var (pid, application, address, state, seconds) = holders[0];
        var parts = new List<string> { string.Create(System.Globalization.CultureInfo.InvariantCulture, $"pid {pid}") };
        if (!string.IsNullOrEmpty(application))
        {
            parts.Add($"application '{application}'");
        }

        if (!string.IsNullOrEmpty(address))
        {
            parts.Add($"from {address}");
        }

        if (seconds is { } s)
        {
            parts.Add(s < 120 ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"connected {s} s ago") : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"connected {s / 60} min ago"));
        }

        if (!string.IsNullOrEmpty(state))
        {
            parts.Add(state);
        }

        return string.Join(", ", parts);
    }

    public override async Task<StoreCheck> CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await GetConfigVersionAsync(cancellationToken) > 0
                ? StoreCheck.Ok
                : new StoreCheck("unreachable", $"the store at {Location} ({PostgresDsn.Setting}) has no config version row");
        }
        catch (StoreBusyException ex)
        {
            return new StoreCheck(StoreCheck.Down, ex.Message);
        }
        catch (StoreUnavailableException ex)
        {
            return new StoreCheck("unreachable", ex.Message);
        }
    }

    public async Task ListenAsync(Func<CancellationToken, Task> onChange, CancellationToken cancellationToken)
    {
        NpgsqlConnection connection;
        try
        {
            connection = await _listenSource.OpenConnectionAsync(cancellationToken);
        }
        catch (Exception ex) when (Translate(ex) is { } translated)
        {
            throw translated;
        }

        await using (connection)
        {
            await using (var listen = new NpgsqlCommand($"LISTEN {ConfigChannel}", connection))
            {
                await listen.ExecuteNonQueryAsync(cancellationToken);
            }

            await onChange(cancellationToken); // whatever changed while nobody listened
            while (true)
            {
                // Returns after a notification was received (several queued ones are all consumed by one reload).
                await connection.WaitAsync(cancellationToken);
                await onChange(cancellationToken);
            }
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await _dataSource.DisposeAsync();
        await _listenSource.DisposeAsync();
    }

    private protected override async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken) => await OpenAsync(_dataSource, cancellationToken);

    private protected override async Task<DbConnection> OpenConnectionAtStartAsync(CancellationToken cancellationToken) =>
        await OpenAsync(_dataSource, cancellationToken, starting: true);

    private protected override string TableExistsSql => "SELECT to_regclass(@Table) IS NOT NULL";

    private async Task<NpgsqlConnection> OpenAsync(NpgsqlDataSource source, CancellationToken cancellationToken, bool starting = false)
    {
        try
        {
            return await source.OpenConnectionAsync(cancellationToken);
        }
        catch (Exception ex) when (starting && ex is NpgsqlException or TimeoutException)
        {
            // At start a dead or wrong server is not something to wait for: say where and why, once.
            throw new StoreUnavailableException($"cannot connect to PostgreSQL at {PostgresDsn.HostOf(_settings)} ({PostgresDsn.Setting}): {Reason(ex)}", ex);
        }
    }

    /// <summary>
    /// Begins a write transaction that waits at most <see cref="WriteLockTimeout"/> for a row or table another connection
    /// holds locked (a long transaction, a migration, an operator's session): past it the write is refused as busy
    /// (<see cref="Translate"/>) instead of holding its caller for the whole command timeout. <c>SET LOCAL</c> ends with the
    /// transaction, so the pooled connection (and a pooler in transaction mode) keeps its own setting; it costs one round
    /// trip per write transaction, which the request path never makes.
    /// </summary>
    private protected override async Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var transaction = await ((NpgsqlConnection)connection).BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, transaction, string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"SET LOCAL lock_timeout = {(long)WriteLockTimeout.TotalMilliseconds}"), cancellationToken);
        return transaction;
    }

    /// <summary>How long a write waits for a lock another connection holds (docs/scaling.md, "Failure modes").</summary>
    internal TimeSpan WriteLockTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// A COMMIT that fails as if the server did not answer (a restart, a failover, a network cut at that moment) may have
    /// been carried out: the write, reported as failed, was made again by its caller (a usage batch counted twice, an
    /// admin change answered 503 and then 409 when sent again). Such a failure is confirmed with the server
    /// (<see cref="CommittedAsync"/>) and reported only if the transaction did not commit. Costs one round trip before
    /// the COMMIT: who the transaction is, asked while the connection still says.
    /// </summary>
    /// <remarks>
    /// The confirmation waits for the server to answer: for a change, at most <see cref="CommitConfirmLimit"/> (its
    /// caller is waiting, an admin API request say), after which it is reported as neither stored nor failed but
    /// unknown; for a usage batch as long as it takes (<see cref="AddUsageEventsAsync"/>), since the writer would
    /// otherwise write it again.
    /// </remarks>
    private protected override Task CommitWriteAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        CommitConfirmedAsync(connection, transaction, CommitConfirmLimit, cancellationToken);

    /// <summary>How long a change whose COMMIT answer was lost waits for the server to say whether it committed.</summary>
    internal TimeSpan CommitConfirmLimit { get; init; } = TimeSpan.FromSeconds(10);

    private async Task CommitConfirmedAsync(DbConnection connection, DbTransaction transaction, TimeSpan confirmFor, CancellationToken cancellationToken)
    {
        // Null when the transaction wrote nothing: then there is nothing a lost answer could hide.
        var id = await FirstValueAsync<long?>(connection, transaction, "SELECT txid_current_if_assigned()", null, cancellationToken);
        var backend = ((NpgsqlConnection)connection).ProcessID;
        try
        {
            await transaction.CommitAsync(cancellationToken);
        }
        catch (Exception ex) when (id is not null && ex is NpgsqlException { IsTransient: true } or TimeoutException)
        {
            bool committed;
            using (var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                limit.CancelAfter(confirmFor);
                try
                {
                    committed = await CommittedAsync(id.Value, backend, limit.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new StoreUnavailableException(
                        $"the PostgreSQL server at {PostgresDsn.HostOf(_settings)} ({PostgresDsn.Setting}) stopped answering as this change was committed and did " +
                        $"not answer within {confirmFor.TotalSeconds:0} s whether it was: it may or may not be stored; look before making it again ({Reason(ex)})", ex);
                }
            }

            if (!committed)
            {
                throw;
            }
        }
    }

    /// <summary>
    /// Whether transaction <paramref name="id"/>, whose COMMIT was sent and not answered, committed: asked on a connection
    /// of its own, again every <see cref="CommitCheckPause"/> while the server does not answer (a restart), until it
    /// says. One still in progress — its backend has not noticed the broken connection, and may never have got the
    /// COMMIT — is ended by terminating that backend, so the answer is final before the batch may be written again.
    /// </summary>
    private async Task<bool> CommittedAsync(long id, int backend, CancellationToken cancellationToken)
    {
        _dataSource.Clear(); // the pool's other connections broke with this one, most likely
        while (true)
        {
            try
            {
                await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
                var status = await FirstValueAsync<string>(connection, null, "SELECT txid_status(@Id)", new { Id = id }, cancellationToken);
                if (status != "in progress")
                {
                    return status == "committed";
                }

                await ExecuteAsync(connection, null,
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = @Backend AND backend_xid::text = (@Id % 4294967296)::text",
                    cancellationToken, new { Backend = backend, Id = id });
            }
            catch (Exception ex) when (ex is NpgsqlException { IsTransient: true } or TimeoutException)
            {
                // the server is not back yet
            }

            await Task.Delay(CommitCheckPause, cancellationToken);
        }
    }

    private protected override async Task<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken) =>
        await ((NpgsqlConnection)connection).BeginTransactionAsync(IsolationLevel.RepeatableRead, cancellationToken);

    private protected override string ExplicitIdClause => "OVERRIDING SYSTEM VALUE";

    private protected override string ShareRowLock => " FOR SHARE";

    private protected override string ExclusiveRowLock => " FOR UPDATE";

    /// <summary>Each delivery's newest attempts read backwards off the (delivery, id) index, stopping after the last one listed.</summary>
    private protected override string NewestAttemptsSql(string ids) => $"""
        SELECT a.id, a.delivery_id, a.attempted_at, a.status_code, a.latency_ms, a.error
        FROM webhook_deliveries d CROSS JOIN LATERAL (
            SELECT x.id, x.delivery_id, x.attempted_at, x.status_code, x.latency_ms, x.error FROM webhook_attempts x
            WHERE x.delivery_id = d.id ORDER BY x.id DESC LIMIT {WebhookDelivery.ListedAttempts}) a
        WHERE d.id IN ({ids}) ORDER BY a.id DESC
        """;

    /// <summary>A transaction-scoped advisory lock: it also covers a plan that does not exist yet (a create).</summary>
    private protected override Task LockPlansAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@Key)", cancellationToken, new { Key = PlansLock });

    private protected override Task LockEntitlementsAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@Key)", cancellationToken, new { Key = EntitlementsLock });

    private protected override Task LockStoredSettingsAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@Key)", cancellationToken, new { Key = StoredSettingsLock });

    private protected override Task LockRowAsync(DbConnection connection, DbTransaction transaction, string table, string id, CancellationToken cancellationToken) =>
        ScalarAsync(connection, transaction, $"SELECT COUNT(*) FROM (SELECT id FROM {table} WHERE id = @Id FOR UPDATE) locked", cancellationToken, new { Id = id });

    /// <summary>A transaction-scoped advisory lock on the subject and the issuer without its trailing slash (a hash: a rare shared lock only waits).</summary>
    private protected override Task LockIdentityAsync(DbConnection connection, DbTransaction transaction, string issuer, string subject, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@Class, hashtext(@Key))", cancellationToken,
            new { Class = IdentityLockClass, Key = (issuer.EndsWith('/') ? issuer[..^1] : issuer) + "\n" + subject });

    private protected override Task LockUserAsync(DbConnection connection, DbTransaction transaction, string userId, CancellationToken cancellationToken) =>
        ScalarAsync(connection, transaction, "SELECT COUNT(*) FROM (SELECT id FROM users WHERE id = @UserId FOR UPDATE) locked", cancellationToken, new { UserId = userId });

    /// <summary>
    /// Two locks, so that a plan change and a usage batch or quota change committing at the same time cannot each read
    /// the state from before the other and both miss a crossing: the plan the users are on now, shared (a quota change
    /// of it holds it until it commits; once this holds it, that change waits and then finds these users on it), and
    /// the users' quota rows this period, created empty where there are none yet (a usage batch holds its rows until it
    /// commits, its first one of the period included; once this holds them, the batch waits and then reads the new plan).
    /// In user id order, as usage batches lock them.
    /// </summary>
    private protected override async Task LockPlanAndQuotaRowsAsync(
        DbConnection connection, DbTransaction transaction, string users, string reference, DateTimeOffset period, CancellationToken ct)
    {
        await ScalarAsync(connection, transaction,
            $"SELECT COUNT(*) FROM (SELECT p.id FROM users u JOIN plans p ON p.id = u.plan_id WHERE {users} FOR SHARE OF p) locked", ct, new { Ref = reference });
        await ExecuteAsync(connection, transaction, $"""
            INSERT INTO quota_usage (user_id, period_start, used, overage) SELECT u.id, @Period, 0, 0 FROM users u WHERE {users} ORDER BY u.id COLLATE "C"
            ON CONFLICT (user_id, period_start) DO UPDATE SET used = quota_usage.used
            """, ct, new { Ref = reference, Period = Rows.StoredValues.Time(period) });
    }

    /// <summary>
    /// How long a copy into this store waits for a lock another connection holds on it (its tables, being written to;
    /// the migration lock, held by a migration under way) before it gives up: 10 s by default. Not a setting; settable so
    /// tests of the refusal do not wait that long.
    /// </summary>
    public TimeSpan CopyLockTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <remarks>Asked before the store is initialized (<c>store copy</c>): a server that does not answer is reported at once, as at start.</remarks>
    public override async Task<string> IdentifyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await OpenConnectionAtStartAsync(cancellationToken);
            return $"{PostgresDsn.HostOf(_settings)}/{await FirstValueAsync<string>(connection, null, "SELECT current_database() || '/' || COALESCE(current_schema(), '')", null, cancellationToken)}";
        }
        catch (Exception ex) when (ex is not StoreUnavailableException && TranslateAtStart(ex) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>
    /// EXCLUSIVE: others may still read the tables, no one may write them. Waits at most <see cref="CopyLockTimeout"/>
    /// for writes under way to end.
    /// </summary>
    private protected override Task LockForCopyAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<string> tables, CancellationToken cancellationToken) =>
        LockWithinCopyTimeoutAsync(connection, transaction, $"LOCK TABLE {string.Join(", ", tables)} IN EXCLUSIVE MODE", null, seconds =>
            $"--to-dsn: the tables of the store at {Location} stayed in use by another connection for {seconds} s (a gateway or command " +
            "writing to it?); nothing was copied: stop what writes to the new store, then copy again", cancellationToken);

    /// <summary>
    /// Runs <paramref name="sql"/>, a statement that takes a lock, waiting at most <see cref="CopyLockTimeout"/> for it
    /// (<c>lock_timeout</c>, for the <paramref name="transaction"/> or, without one, for this statement only); a lock
    /// still held elsewhere then is a <see cref="StoreBusyException"/> saying <paramref name="held"/>(the seconds waited).
    /// </summary>
    private async Task LockWithinCopyTimeoutAsync(
        DbConnection connection, DbTransaction? transaction, string sql, object? parameters, Func<string, string> held, CancellationToken cancellationToken)
    {
        var timeout = CopyLockTimeout;
        await ExecuteAsync(connection, transaction, "SELECT set_config('lock_timeout', @Timeout, @Local)", cancellationToken,
            new { Timeout = ((long)timeout.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture), Local = transaction is not null });
        try
        {
            await ExecuteAsync(connection, transaction, sql, cancellationToken, parameters);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            throw new StoreBusyException(held(timeout.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)), ex);
        }

        if (transaction is null)
        {
            await ExecuteAsync(connection, null, "RESET lock_timeout", cancellationToken);
        }
    }

    private protected override Task ContinueIdsAfterAsync(DbConnection connection, DbTransaction transaction, string table, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, $"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))", cancellationToken);

    /// <summary>Class 23: integrity constraint violation (unique, foreign key, not null, check).</summary>
    private protected override bool IsConstraintViolation(Exception exception) =>
        exception is PostgresException { SqlState: [ '2', '3', _, _, _ ] };

    private protected override bool IsForeignKeyViolation(Exception exception) =>
        exception is PostgresException { SqlState: PostgresErrorCodes.ForeignKeyViolation };

    private protected override Task BumpVersionAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        // NOTIFY is delivered when (and only if) the transaction commits, so listeners never reload a change that did not happen.
        ExecuteAsync(connection, transaction,
            $"WITH bumped AS (UPDATE config_version SET version = version + 1 WHERE id = 1 RETURNING version) SELECT pg_notify('{ConfigChannel}', version::text) FROM bumped",
            cancellationToken);

    /// <summary>
    /// A server that does not answer (refused, reset, timed out, shutting down) is <see cref="StoreBusyException"/>:
    /// nothing was written and the same call may succeed later, which is how the gateway's background writer knows to
    /// keep the usage it holds and try again. Anything else the server refused is <see cref="StoreUnavailableException"/>.
    /// </summary>
    private protected override Exception? Translate(Exception exception)
    {
        switch (exception)
        {
            case StoreUnavailableException or OperationCanceledException:
                return null;
            case PostgresException { SqlState: PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure } rolledBack:
                // The server answered: it rolled this transaction back against another one. Nothing was written and the
                // same call may succeed when tried again, on the same (healthy) pooled connections.
                return new StoreBusyException(
                    $"PostgreSQL at {PostgresDsn.HostOf(_settings)} ({PostgresDsn.Setting}) rolled the write back against another one at the same moment: {Reason(rolledBack)}; nothing was written: try again",
                    exception);
            case PostgresException { SqlState: PostgresErrorCodes.LockNotAvailable } locked:
                // The write's lock wait (BeginWriteAsync) ran out: rolled back, and the same call may succeed once the lock is gone.
                return new StoreBusyException(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"PostgreSQL at {PostgresDsn.HostOf(_settings)} ({PostgresDsn.Setting}): a row or table this write needed stayed locked by another connection for {WriteLockTimeout.TotalSeconds:0.###} s (a long transaction, a migration, an operator's session): {Reason(locked)}; nothing was written: try again"),
                    exception);
            case PostgresException { SqlState: PostgresErrorCodes.QueryCanceled } cancelled:
                // The server cancelled the statement (a statement_timeout the role, database or DSN sets, met while a
                // lock held it; or an administrator): rolled back, and the same call may succeed once the lock is gone.
                // The driver's own timeouts and cancellations arrive as TimeoutException and OperationCanceledException.
                return new StoreBusyException(
                    $"PostgreSQL at {PostgresDsn.HostOf(_settings)} ({PostgresDsn.Setting}) cancelled the statement: {Reason(cancelled)}; nothing was written: try again",
                    exception);
            case NpgsqlException { InnerException: TimeoutException } timedOut when timedOut.Message.StartsWith("Exception while reading", StringComparison.Ordinal):
                // Connected, and the statement's answer did not come within the command timeout: a server that stopped
                // answering, or just as often a row or table another connection holds locked (a long transaction, a
                // migration, an operator's session) — saying only "does not answer" sent operators to the network.
                return WaitFor(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"did not finish a statement within the command timeout ({_settings.CommandTimeout} s, the DSN's Command Timeout): a row or table it needed may be held locked by another connection (a long transaction, a migration), or the server stopped answering"),
                    exception);
            case NpgsqlException { IsTransient: true } or TimeoutException:
                return WaitFor("does not answer", exception);
            case PostgresException { SqlState: PostgresErrorCodes.ReadOnlySqlTransaction }:
                // A standby, or a primary demoted by a failover, that the DSN (or a pooled connection) still reaches: like a
                // server that does not answer, a write waits and is tried again (usage is held, not dropped) on fresh
                // connections, which a DSN listing the hosts with Target Session Attributes=read-write takes to the primary.
                return WaitFor("takes no writes (a standby, or read-only)", exception);
            case PostgresException postgres:
                return Refused(postgres, PostgresDsn.Setting);
            case NpgsqlException:
                return new StoreUnavailableException($"cannot use PostgreSQL at {PostgresDsn.HostOf(_settings)} ({PostgresDsn.Setting}): {Reason(exception)}", exception);
            default:
                return null;
        }
    }

    /// <summary>What the server refused, naming the <paramref name="setting"/> that gave this store's DSN.</summary>
    private StoreUnavailableException Refused(PostgresException postgres, string setting) =>
        new($"PostgreSQL at {PostgresDsn.HostOf(_settings)} ({setting}) refused: {postgres.MessageText} ({postgres.SqlState})", postgres);

    /// <summary>
    /// A server to wait for (<see cref="StoreBusyException"/>: the caller tries again). The pooled connections are let go
    /// first: to a server that went away they are dead too, and fresh ones may reach another host of the DSN.
    /// </summary>
    private StoreBusyException WaitFor(string state, Exception exception)
    {
        _dataSource.Clear();
        return new StoreBusyException($"the PostgreSQL server at {PostgresDsn.HostOf(_settings)} ({PostgresDsn.Setting}) {state}: {Reason(exception)}", exception);
    }

    /// <summary>The innermost useful words: "Connection refused" rather than "Failed to connect to 127.0.0.1:5432".</summary>
    private static string Reason(Exception ex) => ex switch
    {
        PostgresException postgres => $"{postgres.MessageText} ({postgres.SqlState})",
        { InnerException: { } inner } when inner is not PostgresException => $"{ex.Message.TrimEnd('.')}: {inner.Message}",
        _ => ex.Message,
    };
}
