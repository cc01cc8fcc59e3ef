using System.Data.Common;
using ApiGate.Core.Storage;
using ApiGate.Storage.Rows;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Usage;
using Dapper;

namespace ApiGate.Storage.Sql;

/// <summary>
/// Moving an install (<c>apigate store copy</c>): every table a store holds, copied row for row into another,
/// empty store — SQLite to PostgreSQL is the way up to several instances. Rows are copied as stored (stored secrets
/// read with this store's keys and written with the target's; webhook delivery ids are kept); target health
/// is not copied (each running instance reports its own).
/// </summary>
public abstract partial class SqlGatewayStore
{
    /// <summary>Usage events are read and written this many at a time (bounded memory for any size of history).</summary>
    private const int CopyBatch = 5_000;

    private static readonly RowTable<QuotaUsageRow> QuotaTable = new("quota_usage", "user_id, period_start");

    private static readonly RowTable<UsageEventRow> UsageTable = new("usage_events", "id");

    private static readonly RowTable<WebhookEventRow> WebhookEventTable = new("webhook_events", "seq");

    private static readonly RowTable<WebhookDeliveryStateRow> WebhookDeliveryTable = new("webhook_deliveries", "id");

    private static readonly RowTable<WebhookAttemptRow> WebhookAttemptTable = new("webhook_attempts", "id");

    private static readonly RowTable<WebhookUsageMarkRow> WebhookUsageMarkTable = new("webhook_usage_marks", "user_id, period_start, kind");

    /// <summary>The tables a copy fills (plans apart: see <see cref="CopyToAsync"/>).</summary>
    private static readonly string[] CopiedTables =
    [
        "upstreams", "routes", "route_cors", "route_auth", "users", "api_keys", "user_identities", "entitlements", "plan_entitlements",
        "admin_tokens", "quota_usage", "portal_accounts", "portal_tokens", "webhook_endpoints", "webhook_events", "webhook_deliveries",
        "webhook_attempts", "webhook_usage_marks", "billing_customers", "billing_events", "billing_usage_outbox", "admin_audit",
        "usage_events", "usage_rollups", "stored_settings",
    ];

    /// <summary>
    /// Reads every stored secret a copy carries (upstream credentials, webhook signing secrets) with this store's keys,
    /// writing nothing: checked before the target is opened, so a wrong or missing <c>APIGATE_SECRET_KEY</c> leaves the
    /// target as it was.
    /// </summary>
    /// <exception cref="SecretUnreadableException">A secret the keys do not read, naming its table and row.</exception>
    public Task CheckCopiedSecretsAsync(CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) =>
        {
            foreach (var (_, table, id, column) in SecretColumns.Where(c => CopiedTables.Contains(c.Table)))
            {
                foreach (var row in await QueryAsync<StoredSecretRow>(connection, null, SelectSecrets(table, id, column), null, ct))
                {
                    ReadCopiedSecret(table, row.Id, column, row.Value);
                }
            }

            return true;
        }, cancellationToken);

    /// <summary>A stored secret in plaintext, for the copy to write again with the target's key; unreadable, it stops the copy.</summary>
    private string ReadCopiedSecret(string table, string id, string column, string stored)
    {
        try
        {
            return _secrets.Unprotect(stored);
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or System.Security.Cryptography.CryptographicException)
        {
            throw new SecretUnreadableException($"{table} row {id} ({column}): {ex.Message}; nothing was copied");
        }
    }

    /// <summary>
    /// Copies everything into <paramref name="target"/> (initialized, and empty but for what its migrations seed) in
    /// one transaction on each side: the target gets all of it or, on any failure, nothing. A target that its
    /// initialization created is not left behind empty: its schema is created in the copy's transaction
    /// (<see cref="SchemaInCopy"/>), or it is removed (<see cref="RemoveCreatedAsync"/>).
    /// </summary>
    /// <returns>Rows copied per table, in copy order.</returns>
    /// <exception cref="StoreConflictException">The target already holds data (field <c>--to-dsn</c>).</exception>
    public async Task<IReadOnlyList<(string Table, long Rows)>> CopyToAsync(SqlGatewayStore target, CancellationToken cancellationToken)
    {
        try
        {
            return await CopyAllToAsync(target, cancellationToken);
        }
        catch when (target.Created)
        {
            await target.RemoveCreatedAsync();
            throw;
        }
    }

    private Task<IReadOnlyList<(string Table, long Rows)>> CopyAllToAsync(SqlGatewayStore target, CancellationToken cancellationToken) =>
        UseAsync(async (source, ct) =>
        {
            await using var read = await BeginReadAsync(source, ct);
            var copied = await target.WriteTransactionAsync(async (to, write, ct2) =>
            {
                await target.CreateSchemaInCopyAsync(to, write, ct2);
                // Before the emptiness check: a gateway already writing to the target cannot add a row between the two.
                await target.LockForCopyAsync(to, write, [.. CopiedTables, "plans", "usage_compaction", "config_version"], ct2);
                // Every table the copy writes must be empty, but for the default plan the target's migrations seeded
                // (untouched: a plan created or edited there is data the copy would delete).
                var existing = await ScalarAsync(to, write,
                    "SELECT " + string.Join(" + ", CopiedTables.Select(t => $"(SELECT COUNT(*) FROM {t})")) +
                    " + (SELECT COUNT(*) FROM plans WHERE NOT (id = 'free' AND created_at = updated_at))", ct2);
                if (existing > 0)
                {
                    throw new StoreConflictException("--to-dsn",
                        $"the store at {target.Location} already holds data ({existing} rows): copy only into a new, empty database");
                }

                // The plans its migrations seeded give way to the source's.
                await ExecuteAsync(to, write, "DELETE FROM plans", ct2);
                var counts = new List<(string, long)>
                {
                    // Stored secrets are read with this store's keys and written with the target's (a value under the
                    // previous key would otherwise reach a store whose gateways cannot read it).
                    await CopyRowsAsync(Upstreams, source, read, to, write, ct2,
                        convert: r => r with { AuthValue = target._secrets.Protect(ReadCopiedSecret(Upstreams.Name, r.Id, "auth_value", r.AuthValue)) }),
                    await CopyRowsAsync(Routes, source, read, to, write, ct2),
                    await CopyRowsAsync(RouteCors, source, read, to, write, ct2),
                    await CopyRowsAsync(RouteAuth, source, read, to, write, ct2),
                    await CopyRowsAsync(Plans, source, read, to, write, ct2),
                    // The key made again from the address: a row an older build wrote has none.
                    await CopyRowsAsync(Users, source, read, to, write, ct2, convert: r => r with { EmailKey = Core.Text.Emails.Key(r.Email) }),
                    await CopyRowsAsync(Keys, source, read, to, write, ct2),
                    await CopyRowsAsync(UserIdentities, source, read, to, write, ct2),
                    await CopyRowsAsync(Entitlements, source, read, to, write, ct2),
                    await CopyRowsAsync(PlanEntitlements, source, read, to, write, ct2),
                    await CopyRowsAsync(AdminTokenTable, source, read, to, write, ct2),
                    await CopyRowsAsync(QuotaTable, source, read, to, write, ct2),
                    await CopyRowsAsync(PortalAccounts, source, read, to, write, ct2),
                    await CopyRowsAsync(PortalTokens, source, read, to, write, ct2),
                    await CopyRowsAsync(WebhookEndpoints, source, read, to, write, ct2,
                        convert: r => r with { Secret = target._secrets.Protect(ReadCopiedSecret(WebhookEndpoints.Name, r.Id, "secret", r.Secret)) }),
                    // The outbox as it stands: pending deliveries go on from the target, the history stays readable
                    // under the same delivery ids (`webhooks redeliver ID`), and no usage notification is sent twice.
                    await CopyRowsAsync(WebhookEventTable, source, read, to, write, ct2),
                    await target.CopyRowsKeepingIdsAsync(WebhookDeliveryTable, source, read, to, write, ct2),
                    await target.CopyRowsKeepingIdsAsync(WebhookAttemptTable, source, read, to, write, ct2),
                    await CopyRowsAsync(WebhookUsageMarkTable, source, read, to, write, ct2),
                    await CopyRowsAsync(BillingCustomers, source, read, to, write, ct2),
                    await CopyRowsAsync(BillingEvents, source, read, to, write, ct2),
                    await CopyRowsAsync(OverageOutbox, source, read, to, write, ct2),
                    await target.CopyRowsKeepingIdsAsync(AdminAuditTable, source, read, to, write, ct2),
                    await CopyRowsAsync(StoredSettings, source, read, to, write, ct2),
                };

                // With their ids, which a row the target refuses is named by (the target numbers them anew).
                var events = await CopyInBatchesAsync<NumberedUsageEventRow>(UsageTable.Name, "id", source, read,
                    $"SELECT id, {UsageSql.EventColumns} FROM usage_events ORDER BY id", rows => target.AppendUsageRowsAsync(to, write, rows, ct2), ct2);
                counts.Add((UsageTable.Name, events));

                // Rollups as stored (every granularity), and how far they were compacted: the target reads what the source read.
                var rollups = await CopyInBatchesAsync<UsageRollupRow>("usage_rollups", RollupKey, source, read, UsageSql.AllRollups,
                    rows => to.ExecuteAsync(new CommandDefinition(UsageSql.UpsertRollup, rows, write, cancellationToken: ct2)), ct2);
                counts.Add(("usage_rollups", rollups));
                var watermarks = await QueryAsync<(long Granularity, long CompactedUntil)>(source, read, UsageSql.SelectWatermarks, null, ct2);
                foreach (var (granularity, until) in watermarks)
                {
                    await ExecuteAsync(to, write, UsageSql.SetWatermark, ct2, new { Until = until, Granularity = granularity });
                }

                counts.Add(("usage_compaction", watermarks.Count));

                // Past the source's version, so gateways already on the target reload whatever they had.
                var version = await ScalarAsync(source, read, "SELECT version FROM config_version WHERE id = 1", ct2);
                await ExecuteAsync(to, write, "UPDATE config_version SET version = CASE WHEN version < @Version THEN @Version ELSE version END WHERE id = 1", ct2, new { Version = version });
                await target.BumpVersionAsync(to, write, ct2);
                return (IReadOnlyList<(string, long)>)counts;
            }, ct);
            await read.CommitAsync(ct);
            return copied;
        }, cancellationToken);

    /// <summary>
    /// Which store this is, to tell whether two DSNs name the same one: its <see cref="Location"/> by default; SQLite
    /// names the file itself (links followed), PostgreSQL asks the server for the database and schema, since two
    /// schemas of one database are two stores.
    /// </summary>
    public virtual Task<string> IdentifyAsync(CancellationToken cancellationToken) => Task.FromResult(Location);

    /// <summary>
    /// Creates the schema that <c>InitializeAsync</c> left to the copy (<see cref="SchemaInCopy"/>) in the copy's
    /// transaction (<see cref="CreateSchemaAsync"/>). Nothing here: a store whose schema is there already.
    /// </summary>
    private protected virtual Task CreateSchemaInCopyAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>The table of applied migrations, as both engines create it.</summary>
    private protected const string SchemaMigrationsTable = "schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)";

    /// <summary>
    /// Runs one migration and records it in <c>schema_migrations</c>, in <paramref name="transaction"/>; with what a
    /// migration needs beyond SQL (<see cref="EmailKeyMigration"/>).
    /// </summary>
    private protected async Task ApplyMigrationAsync(
        DbConnection connection, DbTransaction transaction, int version, string name, string sql, CancellationToken cancellationToken)
    {
        if (version == EmailKeyMigration)
        {
            await AddEmailKeyColumnAsync(connection, transaction, cancellationToken);
        }

        await ExecuteAsync(connection, transaction, sql, cancellationToken);
        if (version == EmailKeyMigration)
        {
            await FillEmailKeysAsync(connection, transaction, missingOnly: false, cancellationToken);
        }

        await ExecuteAsync(connection, transaction, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@Version, @Name, @At)", cancellationToken,
            new { Version = version, Name = name, At = StoredValues.Time(DateTimeOffset.UtcNow) });
    }

    /// <summary>
    /// Creates a new store's whole schema (the table of migrations, then every one of <paramref name="migrations"/>) in
    /// the copy's transaction; refused when <paramref name="hasSchemaQuery"/> finds that another process created it
    /// since <c>InitializeAsync</c> looked.
    /// </summary>
    /// <exception cref="StoreConflictException">The store has a schema now (field <c>--to-dsn</c>).</exception>
    private protected async Task CreateSchemaAsync(
        DbConnection connection, DbTransaction transaction, string hasSchemaQuery, IEnumerable<(int Version, string Name, string Sql)> migrations,
        CancellationToken cancellationToken)
    {
        if (await FirstValueAsync<bool>(connection, transaction, hasSchemaQuery, null, cancellationToken))
        {
            throw new StoreConflictException("--to-dsn",
                $"the store at {Location} was created by another process after the copy opened it (a gateway started on it?): copy only into a new, empty database");
        }

        await ExecuteAsync(connection, transaction, "CREATE TABLE " + SchemaMigrationsTable, cancellationToken);
        foreach (var (version, name, sql) in migrations)
        {
            await ApplyMigrationAsync(connection, transaction, version, name, sql, cancellationToken);
        }
    }

    /// <summary>
    /// After a failed copy into a store that <c>InitializeAsync</c> created: removes what is left of it, and closes it.
    /// Nothing here: the schema was created in the copy's transaction, rolled back with it.
    /// </summary>
    private protected virtual Task RemoveCreatedAsync() => Task.CompletedTask;

    /// <summary>
    /// Keeps other writers out of <paramref name="tables"/> until the copy's transaction ends. Nothing here: a SQLite
    /// write transaction already excludes every other writer.
    /// </summary>
    private protected virtual Task LockForCopyAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<string> tables, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>Appends usage rows as stored (no quota units: <c>quota_usage</c> is copied as it is). PostgreSQL uses COPY.</summary>
    private protected virtual async Task AppendUsageRowsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<UsageEventRow> rows, CancellationToken cancellationToken)
    {
        if (rows.Count > 0)
        {
            await connection.ExecuteAsync(new CommandDefinition(UsageTable.Insert, rows, transaction, cancellationToken: cancellationToken));
        }
    }

    /// <summary>What goes before <c>VALUES</c> to insert chosen ids into an identity column (PostgreSQL: <c>OVERRIDING SYSTEM VALUE</c>).</summary>
    private protected virtual string ExplicitIdClause => "";

    /// <summary>After rows were inserted with their ids: the next generated id of <paramref name="table"/> follows the largest one.</summary>
    private protected virtual Task ContinueIdsAfterAsync(DbConnection connection, DbTransaction transaction, string table, CancellationToken cancellationToken) =>
        Task.CompletedTask; // SQLite: AUTOINCREMENT already continues after the largest id inserted

    /// <summary>Copies a table whose integer ids other rows or users refer to (webhook delivery ids), keeping them.</summary>
    private async Task<(string, long)> CopyRowsKeepingIdsAsync<TRow>(
        RowTable<TRow> table, DbConnection from, DbTransaction read, DbConnection to, DbTransaction write, CancellationToken cancellationToken)
        where TRow : class
    {
        var copied = await CopyRowsAsync(table, from, read, to, write, cancellationToken, ExplicitIdClause);
        if (copied.Rows > 0)
        {
            await ContinueIdsAfterAsync(to, write, table.Name, cancellationToken);
        }

        return copied;
    }

    /// <summary>
    /// Copies a table as stored, or each row as <paramref name="convert"/> makes it; <paramref name="insertClause"/> goes
    /// before <c>VALUES</c> (<see cref="ExplicitIdClause"/>).
    /// </summary>
    private static async Task<(string Table, long Rows)> CopyRowsAsync<TRow>(
        RowTable<TRow> table, DbConnection from, DbTransaction read, DbConnection to, DbTransaction write, CancellationToken cancellationToken,
        string insertClause = "", Func<TRow, TRow>? convert = null)
        where TRow : class
    {
        var insert = table.InsertWith(insertClause);
        var rows = await CopyInBatchesAsync<TRow>(table.Name, table.Key, from, read, table.Select(""),
            batch => to.ExecuteAsync(new CommandDefinition(insert, batch, write, cancellationToken: cancellationToken)), cancellationToken, convert);
        return (table.Name, rows);
    }

    /// <summary>The SQLSTATE of text a database's encoding cannot hold: PostgreSQL's answer to a NUL in text.</summary>
    private const string CharacterNotInRepertoire = "22021";

    /// <summary>The columns that name a row of <c>usage_rollups</c> as the copy reads it (it reads no id).</summary>
    private const string RollupKey = "granularity, bucket, user_id, key_id, route_id, status_class";

    /// <summary>
    /// Streams what <paramref name="select"/> reads and hands it to <paramref name="write"/> <see cref="CopyBatch"/> rows at
    /// a time (never an empty batch), each row as <paramref name="convert"/> makes it: bounded memory however long a
    /// table's history is. Returns the rows copied.
    /// </summary>
    /// <param name="key">The columns that name a row of <paramref name="table"/> in an error (<see cref="RowTable{TRow}.Key"/>).</param>
    /// <exception cref="StoreUnavailableException">
    /// The target refused a batch: the message names <c>--to-dsn</c> and <paramref name="table"/>, and for text the
    /// target cannot hold (a NUL character, which PostgreSQL's text refuses) the row by its key and the column.
    /// </exception>
    private static async Task<long> CopyInBatchesAsync<TRow>(
        string table, string key, DbConnection from, DbTransaction read, string select, Func<IReadOnlyList<TRow>, Task> write, CancellationToken cancellationToken,
        Func<TRow, TRow>? convert = null)
    {
        async Task WriteAsync(IReadOnlyList<TRow> rows)
        {
            var written = convert is null ? rows : rows.Select(convert).ToList();
            try
            {
                await write(written);
            }
            catch (DbException ex)
            {
                // Said of the target and the table being written, not of the source's setting; a driver message quotes no
                // DSN. PostgreSQL refuses a NUL in text (22021, character not in repertoire) for the whole statement without
                // naming a row or column, so the rows it was given are searched for one (only once it failed: a copy that
                // goes through costs nothing more, and SQLite holds a NUL); the row is named by its key, never by the value,
                // which may be a secret.
                var problem = ex.SqlState == CharacterNotInRepertoire && NulCharacters.Find(table, key, written) is { } nul
                    ? $"{nul} holds a NUL character (U+0000), which the target's text cannot hold: remove it from that value in the source store, then copy again ({ex.Message})"
                    : ex.Message;
                throw new StoreUnavailableException($"--to-dsn: writing the {table} table to the target failed, nothing was copied: {problem}", ex);
            }
        }

        long copied = 0;
        var batch = new List<TRow>(CopyBatch);
        await using var reader = await ReadRowsAsync(from, new CommandDefinition(select, transaction: read, cancellationToken: cancellationToken));
        var parse = ParserOf<TRow>(reader);
        while (await reader.ReadAsync(cancellationToken))
        {
            batch.Add(parse(reader));
            if (batch.Count == CopyBatch)
            {
                await WriteAsync(batch);
                copied += batch.Count;
                batch.Clear();
            }
        }

        if (batch.Count > 0)
        {
            await WriteAsync(batch);
        }

        return copied + batch.Count;
    }
}
