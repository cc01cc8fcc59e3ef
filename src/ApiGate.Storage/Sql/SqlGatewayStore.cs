using System.Data.Common;
using System.Globalization;
using ApiGate.Core.Routing;
using ApiGate.Core.Storage;
using ApiGate.Core.Upstreams;
using ApiGate.Storage.Rows;
using ApiGate.Storage.Secrets;
using Dapper;

namespace ApiGate.Storage.Sql;

/// <summary>
/// What the SQLite and PostgreSQL stores share: every table's SQL (built from the row records in
/// <see cref="Rows"/>), the Dapper mapping, the validation and conflict errors, and the rule that every config write
/// bumps <c>config_version</c> in its own transaction. An engine supplies connections, transactions, its migrations,
/// how it recognises a constraint violation and how it reports an unusable database; usage, the hottest write, is
/// written by each engine its own fastest way.
/// </summary>
public abstract partial class SqlGatewayStore : IGatewayStore
{
    private readonly SecretProtector _secrets;

    private protected SqlGatewayStore(SecretProtector secrets)
    {
        _secrets = secrets;
        RowMapping.Register();
    }

    /// <summary>Where the store lives, for messages (never a password).</summary>
    public abstract string Location { get; }

    public abstract Task InitializeAsync(CancellationToken cancellationToken);

    public abstract Task<StoreCheck> CheckAsync(CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();

    /// <summary>True when <c>InitializeAsync</c> created a new, empty store.</summary>
    public bool Created { get; private protected set; }

    /// <summary>The migrations <c>InitializeAsync</c> applied (empty when the schema was current).</summary>
    public IReadOnlyList<(int Version, string Name)> MigrationsApplied { get; private protected set; } = [];

    /// <summary>The schema version after <c>InitializeAsync</c>: the newest migration this build knows.</summary>
    public int SchemaVersion { get; private protected set; }

    /// <summary>
    /// Whether <c>InitializeAsync</c> applies pending migrations to a store an older build created (default true, as
    /// <c>serve</c> and <c>migrate</c> need). When false such a store is refused with <see cref="StoreUnavailableException"/>
    /// and left as it is; a new, empty store is created either way.
    /// </summary>
    public bool MigrateExisting { get; set; } = true;

    /// <summary>
    /// Whether <c>InitializeAsync</c> leaves the schema of a new, empty store (one with no schema yet, whatever other
    /// tables it holds) to <see cref="CopyToAsync"/>, which then creates it in the copy's own transaction: a copy that
    /// fails leaves no schema behind (and a SQLite file it created is deleted). Also bounds the wait for PostgreSQL's
    /// migration lock (<c>CopyLockTimeout</c>). Default false.
    /// </summary>
    public bool SchemaInCopy { get; set; }

    public Task<long> GetConfigVersionAsync(CancellationToken cancellationToken) =>
        UseAsync((connection, ct) => ScalarAsync(connection, null, "SELECT version FROM config_version WHERE id = 1", ct), cancellationToken);

    public virtual Task<StoreVersions> GetVersionsAsync(CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) => (await QueryAsync<VersionsRow>(connection, null, VersionsSql, null, ct)).Single().ToVersions(), cancellationToken);

    private protected const string VersionsSql =
        "SELECT c.version AS Config, i.version AS Identity, t.token AS Content FROM config_version c CROSS JOIN identity_version i CROSS JOIN config_content t " +
        "WHERE c.id = 1 AND i.id = 1 AND t.id = 1";

    public Task<ConfigData> LoadConfigAsync(CancellationToken cancellationToken) => UseAsync(async (connection, ct) =>
    {
        await using var transaction = await BeginReadAsync(connection, ct);
        var versions = (await QueryAsync<VersionsRow>(connection, transaction, VersionsSql, null, ct)).Single();
        var data = new ConfigData(
            versions.Config,
            versions.Identity,
            (await QueryAsync<UpstreamRow>(connection, transaction, Upstreams.Select(""), null, ct)).Select(r => Stored(Upstreams.Name, r.Id, () => ToUpstream(r))).ToList(),
            await RoutesAsync(connection, transaction, "", null, ct),
            (await QueryAsync<PlanRow>(connection, transaction, Plans.Select(""), null, ct)).Select(r => Stored(Plans.Name, r.Id, r.ToDefinition)).ToList(),
            (await QueryAsync<EntitlementRow>(connection, transaction, Entitlements.Select(""), null, ct)).Select(r => Stored(Entitlements.Name, r.Id, r.ToDefinition)).ToList(),
            (await QueryAsync<PlanEntitlementRow>(connection, transaction, PlanEntitlements.Select(""), null, ct)).Select(r => Stored(PlanEntitlements.Name, r.Id, r.ToDefinition)).ToList())
        {
            ContentToken = versions.Content,
        };
        await transaction.CommitAsync(ct);
        return data;
    }, cancellationToken);

    /// <summary>
    /// A row turned into its definition; a value no build writes (a hand edit, a damaged file) is an
    /// <see cref="InvalidDataException"/> naming the table and the row, whatever part of the conversion refused it.
    /// </summary>
    private static T Stored<T>(string table, string id, Func<T> convert)
    {
        try
        {
            return convert();
        }
        catch (Exception ex) when (ex is InvalidDataException or System.Text.Json.JsonException or FormatException)
        {
            throw new InvalidDataException($"{table} row '{id}' cannot be read: {ex.Message}", ex);
        }
    }

    /// <summary>The store's config and identity versions and content token, read together with the config they describe.</summary>
    private sealed class VersionsRow
    {
        public long Config { get; init; }

        public long Identity { get; init; }

        public long Content { get; init; }

        public StoreVersions ToVersions() => new(Config, Identity, Content);
    }

    public Task<IReadOnlyList<UpstreamDefinition>> ListUpstreamsAsync(CancellationToken cancellationToken) =>
        ListAsync(Upstreams, ToUpstream, "", null, cancellationToken);

    public Task<UpstreamDefinition?> FindUpstreamAsync(string idOrSlug, CancellationToken cancellationToken) =>
        FindByIdOrNameAsync(Upstreams, ToUpstream, "WHERE slug = @Ref", idOrSlug, cancellationToken);

    public Task CreateUpstreamAsync(UpstreamDefinition upstream, CancellationToken cancellationToken) =>
        WriteAsync(Upstreams.Insert, UpstreamRow.From(upstream, _secrets.Protect), Duplicate("name", $"an upstream named '{upstream.Name}' already exists"), cancellationToken);

    public Task UpdateUpstreamAsync(UpstreamDefinition upstream, DateTimeOffset readAt, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            try
            {
                await UpdateIfUnchangedAsync(connection, transaction, Upstreams.Update, UpstreamRow.From(upstream, _secrets.Protect),
                    new Unchanged(Upstreams.Name, upstream.Id, readAt, "upstream", upstream.Name), ct);
            }
            catch (Exception ex) when (IsConstraintViolation(ex))
            {
                throw ConflictOf(ex, Duplicate("name", $"an upstream named '{upstream.Name}' already exists"));
            }

            await BumpVersionAsync(connection, transaction, ct);
            return true;
        }, cancellationToken);

    /// <summary>
    /// Runs <paramref name="updateSql"/> (an update by id) only while the row's <c>updated_at</c> is still the one it was
    /// read with: a row another request wrote after this one read it is not overwritten with a change made to the old copy.
    /// </summary>
    /// <remarks>
    /// The stored text is compared as a time (a row written elsewhere, such as the plan a migration seeds, may hold the
    /// same instant in another format), and the UPDATE then requires that very text, so a write committed meanwhile
    /// (PostgreSQL re-checks the condition once it commits) makes it change nothing.
    /// </remarks>
    private static async Task UpdateIfUnchangedAsync(
        DbConnection connection, DbTransaction transaction, string updateSql, object row, Unchanged unchanged, CancellationToken ct)
    {
        var stored = (await QueryAsync<string>(connection, transaction, $"SELECT updated_at FROM {unchanged.Table} WHERE id = @Id", new { unchanged.Id }, ct))
            .FirstOrDefault();
        var parameters = new DynamicParameters(row);
        parameters.Add("ReadAt", stored);
        if (stored is null || StoredValues.Time(stored) != unchanged.ReadAt
            || await ExecuteAsync(connection, transaction, updateSql + " AND updated_at = @ReadAt", ct, parameters) == 0)
        {
            throw new StoreChangedMeanwhileException($"the {unchanged.Kind} '{unchanged.Name}' was changed by another request at the same time");
        }
    }

    /// <summary>
    /// The condition of an update that must not overwrite a newer row: its table and id, the <c>updated_at</c> it read,
    /// and the kind and name of the row for the <see cref="StoreChangedMeanwhileException"/>'s message.
    /// </summary>
    private protected sealed record Unchanged(string Table, string Id, DateTimeOffset ReadAt, string Kind, string Name);

    /// <summary>Runs <paramref name="sql"/>, or, with <paramref name="unchanged"/>, runs it as <see cref="UpdateIfUnchangedAsync"/> does.</summary>
    private static Task ExecuteOrUpdateIfUnchangedAsync(
        DbConnection connection, DbTransaction transaction, string sql, object row, Unchanged? unchanged, CancellationToken ct) =>
        unchanged is null
            ? ExecuteAsync(connection, transaction, sql, ct, row)
            : UpdateIfUnchangedAsync(connection, transaction, sql, row, unchanged, ct);

    public Task DeleteUpstreamAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken) =>
        DeleteGuardedAsync("upstreams", id, readAt, "SELECT slug FROM routes WHERE upstream_id = @Ref ORDER BY slug",
            users => new StoreConflictException("upstream", $"upstream is used by route(s) {string.Join(", ", users)}: delete or re-point them first"),
            [], cancellationToken);

    public Task<IReadOnlyList<RouteDefinition>> ListRoutesAsync(CancellationToken cancellationToken) =>
        UseAsync<IReadOnlyList<RouteDefinition>>(async (connection, ct) => await RoutesAsync(connection, null, "", null, ct), cancellationToken);

    public Task<RouteDefinition?> FindRouteAsync(string idOrSlug, CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) =>
            (await RoutesAsync(connection, null, "WHERE id = @Ref", new { Ref = idOrSlug }, ct)) is [var route, ..] ? route
            : (await RoutesAsync(connection, null, "WHERE slug = @Ref", new { Ref = idOrSlug }, ct)) is [var bySlug, ..] ? bySlug : null, cancellationToken);

    public Task CreateRouteAsync(RouteDefinition route, CancellationToken cancellationToken) => WriteRouteAsync(Routes.Insert, route, cancellationToken);

    public Task UpdateRouteAsync(RouteDefinition route, DateTimeOffset readAt, CancellationToken cancellationToken) =>
        WriteRouteAsync(Routes.Update, route, cancellationToken, readAt);

    public Task DeleteRouteAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken) =>
        DeleteGuardedAsync("routes", id, readAt, null, null, ["DELETE FROM route_cors WHERE id = @Id", "DELETE FROM route_auth WHERE id = @Id"], cancellationToken);

    /// <summary>The routes <paramref name="where"/> selects, each with its CORS settings (a row of <c>route_cors</c>, when it has one).</summary>
    private static async Task<List<RouteDefinition>> RoutesAsync(
        DbConnection connection, DbTransaction? transaction, string where, object? parameters, CancellationToken ct)
    {
        var routes = await QueryAsync<RouteRow>(connection, transaction, Routes.Select(where), parameters, ct);
        // Only the selected routes' settings: one route found by id or slug read every route's before.
        var ofSelected = where.Length == 0 ? "" : "WHERE id IN (SELECT id FROM routes " + where + ")";
        var cors = (await QueryAsync<RouteCorsRow>(connection, transaction, RouteCors.Select(ofSelected), parameters, ct)).ToDictionary(c => c.Id, StringComparer.Ordinal);
        var auth = (await QueryAsync<RouteAuthRow>(connection, transaction, RouteAuth.Select(ofSelected), parameters, ct)).ToDictionary(a => a.Id, StringComparer.Ordinal);
        var list = new List<RouteDefinition>(routes.Count);
        foreach (var row in routes)
        {
            list.Add(Stored(Routes.Name, row.Id, () =>
            {
                var route = row.ToDefinition();
                if (cors.TryGetValue(route.Id, out var settings))
                {
                    route = settings.ApplyTo(route);
                }

                if (auth.TryGetValue(route.Id, out var scheme))
                {
                    route = route with { AuthScheme = StoredValues.Enum<AuthScheme>(scheme.Scheme) };
                }

                return route;
            }));
        }

        return list;
    }

    /// <summary>Writes the route row and replaces its CORS row in one transaction that also bumps the config version.</summary>
    private Task WriteRouteAsync(string routeSql, RouteDefinition route, CancellationToken cancellationToken, DateTimeOffset? readAt = null) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            try
            {
                if (readAt is { } read)
                {
                    await UpdateIfUnchangedAsync(connection, transaction, routeSql, RouteRow.From(route), new Unchanged(Routes.Name, route.Id, read, "route", route.Name), ct);
                }
                else
                {
                    await ExecuteAsync(connection, transaction, routeSql, ct, RouteRow.From(route));
                }
            }
            catch (Exception ex) when (IsConstraintViolation(ex))
            {
                throw ConflictOf(ex, Duplicate("name", $"a route named '{route.Name}' already exists"), "upstream");
            }

            await ExecuteAsync(connection, transaction, "DELETE FROM route_cors WHERE id = @Id", ct, new { route.Id });
            if (RouteCorsRow.From(route) is { } cors)
            {
                await ExecuteAsync(connection, transaction, RouteCors.Insert, ct, cors);
            }

            await ExecuteAsync(connection, transaction, "DELETE FROM route_auth WHERE id = @Id", ct, new { route.Id });
            if (route.AuthScheme != AuthScheme.Key)
            {
                await ExecuteAsync(connection, transaction, RouteAuth.Insert, ct, new RouteAuthRow { Id = route.Id, Scheme = StoredValues.Enum(route.AuthScheme) });
            }

            await BumpVersionAsync(connection, transaction, ct);
            return true;
        }, cancellationToken);

    private static readonly RowTable<UpstreamRow> Upstreams = new("upstreams", "slug");

    private static readonly RowTable<RouteRow> Routes = new("routes", "priority DESC, slug");

    private static readonly RowTable<RouteCorsRow> RouteCors = new("route_cors", "id");

    private static readonly RowTable<RouteAuthRow> RouteAuth = new("route_auth", "id");

    private UpstreamDefinition ToUpstream(UpstreamRow row) => row.ToDefinition(_secrets.Unprotect);

    /// <summary>
    /// Told once, with one line for the person waiting, when <c>InitializeAsync</c> has to wait for another session (on
    /// PostgreSQL: the migration lock, which another process's migration holds); the wait goes on until it lets go.
    /// </summary>
    public Action<string>? Waiting { get; set; }

    // ---- what an engine provides ----

    /// <summary>An open connection; a database that cannot be reached or opened surfaces as <see cref="StoreUnavailableException"/>.</summary>
    private protected abstract Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken);

    /// <summary>A transaction that may write; returns once this connection may write (SQLite: holds the write lock).</summary>
    private protected abstract Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>
    /// Waits, without holding a thread, for this process's turn to write; disposing the result ends the turn. None by
    /// default (PostgreSQL's writers do not exclude each other); an engine with one writer at a time queues its own
    /// writes here rather than in the database's lock wait.
    /// </summary>
    private protected virtual ValueTask<IDisposable?> EnterWriteAsync(CancellationToken cancellationToken) => ValueTask.FromResult<IDisposable?>(null);

    /// <summary>
    /// Commits a write transaction. By default the COMMIT's outcome is what the driver reports; an engine reached over a
    /// network, where the answer to a COMMIT the server carried out can be lost, confirms such a failure with the server
    /// (PostgreSQL) so a write that was stored is not reported as failed and then made again.
    /// </summary>
    private protected virtual Task CommitWriteAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        transaction.CommitAsync(cancellationToken);

    /// <summary>A transaction whose reads see one consistent state of the database.</summary>
    private protected abstract Task<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken);

    /// <summary>True when <paramref name="exception"/> is the engine refusing a write for a UNIQUE or foreign key rule.</summary>
    private protected abstract bool IsConstraintViolation(Exception exception);

    /// <summary>True when <paramref name="exception"/> is a foreign-key violation: a row this write refers to is gone.</summary>
    private protected abstract bool IsForeignKeyViolation(Exception exception);

    /// <summary>
    /// The conflict a constraint violation means: a row this write refers to was deleted meanwhile (foreign key), else
    /// <paramref name="onUnique"/> (a name or email taken).
    /// </summary>
    /// <param name="reference">
    /// The one row the write refers to (<c>upstream</c>, <c>plan</c>, <c>user</c>): the kind of row the conflict says is
    /// gone, and its field; empty where the write refers to more than one.
    /// </param>
    /// <param name="field">The conflict's field when it is not <paramref name="reference"/> (empty: the row was named by the path).</param>
    private protected StoreConflictException ConflictOf(Exception exception, StoreConflictException? onUnique, string reference = "", string? field = null) =>
        IsForeignKeyViolation(exception)
            ? StoreConflictException.ReferenceDeleted(reference, field ?? reference)
            : onUnique ?? new StoreConflictException("", exception.Message);

    /// <summary>
    /// The engine's exception as the store reports it (<see cref="StoreUnavailableException"/>,
    /// <see cref="StoreBusyException"/>), or null to let it propagate as it is.
    /// </summary>
    private protected virtual Exception? Translate(Exception exception) => null;

    /// <summary>Bumps <c>config_version</c> inside a config write's transaction (PostgreSQL also notifies listeners there).</summary>
    private protected virtual Task BumpVersionAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "UPDATE config_version SET version = version + 1 WHERE id = 1", cancellationToken);

    // ---- plumbing shared by every table ----

    /// <summary>Runs <paramref name="work"/> on a connection of its own; engine failures become the store's exceptions (<see cref="Translate"/>).</summary>
    private protected async Task<T> UseAsync<T>(Func<DbConnection, CancellationToken, Task<T>> work, CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await OpenConnectionAsync(cancellationToken);
            return await work(connection, cancellationToken);
        }
        catch (Exception ex) when (ex is not StoreConflictException && Translate(ex) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>Runs <paramref name="work"/> in a write transaction and commits it.</summary>
    private protected Task<T> WriteTransactionAsync<T>(Func<DbConnection, DbTransaction, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) =>
        {
            using var turn = await EnterWriteAsync(ct);
            await using var transaction = await BeginWriteAsync(connection, ct);
            var result = await work(connection, transaction, ct);
            await CommitWriteAsync(connection, transaction, ct);
            AfterCommit(transaction);
            return result;
        }, cancellationToken);

    /// <summary>
    /// One statement as a write of its own: in the write turn and the engine's write transaction like every other
    /// write (so it queues behind this process's writes instead of waiting in SQLite's busy handler, and a lock held
    /// elsewhere surfaces as <see cref="StoreBusyException"/>). Returns the number of rows it changed.
    /// </summary>
    private protected Task<int> WriteOneAsync(string sql, CancellationToken cancellationToken, object parameters) =>
        WriteTransactionAsync((connection, transaction, ct) => ExecuteAsync(connection, transaction, sql, ct, parameters), cancellationToken);

    /// <summary>
    /// The store's schema version once migrated: <paramref name="latest"/>, this build's newest migration. A store that
    /// a newer build migrated further is refused (after a downgrade, this build would read and write tables it does
    /// not know the shape of).
    /// </summary>
    /// <exception cref="StoreSchemaMismatchException">The store's schema is newer than this build's.</exception>
    private protected async Task<int> RefuseNewerSchemaAsync(DbConnection connection, int latest, CancellationToken cancellationToken)
    {
        var version = (int)await ScalarAsync(connection, null, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", cancellationToken);
        if (version > latest)
        {
            throw new StoreSchemaMismatchException(
                $"the store at {Location} is at schema version {version}, newer than this apigate knows ({latest}): a newer apigate migrated it; " +
                "run that version (or newer), or restore the backup taken before the upgrade");
        }

        return latest;
    }

    /// <summary>
    /// The refusal of a store an older build created when <see cref="MigrateExisting"/> is false: migrating it under
    /// gateways of that build, which keep running and writing in the old shapes, changes the meaning of what they write
    /// next (usage events written by a build before migration 7 are no longer counted), and leaves no backup.
    /// </summary>
    private protected StoreSchemaMismatchException OlderSchema(int version, int latest) => new(
        $"the store at {Location} is at schema version {version}, older than this apigate ({latest}); it was not changed. " +
        "To upgrade it: stop the gateways that run the older apigate, back the store up, then run 'apigate migrate' " +
        "(or start 'apigate serve', which migrates on start)");

    /// <summary>The rows of <paramref name="table"/> that <paramref name="where"/> selects, converted.</summary>
    private protected Task<IReadOnlyList<T>> ListAsync<TRow, T>(
        RowTable<TRow> table, Func<TRow, T> convert, string where, object? parameters, CancellationToken cancellationToken)
        where TRow : class =>
        UseAsync<IReadOnlyList<T>>(async (connection, ct) =>
            (await QueryAsync<TRow>(connection, null, table.Select(where), parameters, ct)).Select(convert).ToList(), cancellationToken);

    /// <summary>
    /// At most <paramref name="count"/> of the rows <paramref name="where"/> selects after the first <paramref name="offset"/>,
    /// in the table's order, and how many it selects: two statements in one read transaction, so the page and the total agree.
    /// </summary>
    private protected Task<StorePage<T>> PageAsync<TRow, T>(
        RowTable<TRow> table, Func<TRow, T> convert, string where, object? parameters, int offset, int count, CancellationToken cancellationToken)
        where TRow : class =>
        PageAsync(table, convert, where, parameters, offset, keyset: null, after: null, count, cancellationToken);

    /// <summary>
    /// <see cref="PageAsync{TRow, T}(RowTable{TRow}, Func{TRow, T}, string, object?, int, int, CancellationToken)"/> of a
    /// table that can also be read by cursor: right after <paramref name="after"/> when given (the offset then 0), with
    /// the cursor of the page that follows (one row more is read to know whether one does).
    /// </summary>
    private protected Task<StorePage<T>> PageAsync<TRow, T>(
        RowTable<TRow> table, Func<TRow, T> convert, string where, object? parameters, int offset, Keyset<TRow>? keyset, ListCursor? after,
        int count, CancellationToken cancellationToken)
        where TRow : class
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var bound = new DynamicParameters(parameters);
        bound.Add("PageOffset", offset);
        bound.Add("PageCount", keyset is null ? count : count + 1L); // long: the CLI asks for int.MaxValue rows to list them all
        var selected = where;
        if (after is not null)
        {
            if (keyset is null || offset != 0)
            {
                throw new ArgumentException("a cursor needs a keyset and no offset", nameof(after));
            }

            selected = (where.Length == 0 ? "WHERE " : where + " AND ") + keyset.After;
            bound.Add("AfterValue", after.SortValue);
            bound.Add("AfterId", after.Id);
        }

        return UseAsync(async (connection, ct) =>
        {
            await using var transaction = await BeginReadAsync(connection, ct);
            var rows = await QueryAsync<TRow>(connection, transaction, table.Select(selected) + " LIMIT @PageCount OFFSET @PageOffset", bound, ct);
            var total = await ScalarAsync(connection, transaction, $"SELECT COUNT(*) FROM {table.Name} {where}", ct, parameters);
            await transaction.CommitAsync(ct);
            var more = rows.Count > count;
            var page = more ? rows.Take(count) : rows;
            return new StorePage<T>(page.Select(convert).ToList(), (int)total, more ? keyset!.CursorOf(rows[count - 1]) : null);
        }, cancellationToken);
    }

    /// <summary>
    /// One page of a window — the newest <paramref name="limit"/> of the rows <paramref name="where"/> (a <c>WHERE</c>
    /// clause) selects, in <paramref name="orderBy"/> — and how many rows the window holds now: after the first
    /// <paramref name="offset"/> of them, or right after <paramref name="after"/>, whose <see cref="ListCursor.Left"/>
    /// bounds the rest of the window as it was on the first page (so rows added meanwhile neither show nor push older ones
    /// out). The keyset's sort value and id are whole numbers (<see cref="ListCursors.Decode"/>, <c>windowed</c>). One read
    /// transaction, as <see cref="PageAsync{TRow, T}(RowTable{TRow}, Func{TRow, T}, string, object?, int, int, CancellationToken)"/>.
    /// </summary>
    private protected Task<StorePage<T>> WindowPageAsync<TRow, T>(
        string columns, string table, string where, string orderBy, object parameters, Keyset<TRow> keyset, Func<TRow, T> convert,
        int limit, int offset, ListCursor? after, int count, CancellationToken cancellationToken)
        where TRow : class
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var left = Math.Min(after?.Left ?? limit - Math.Min(offset, limit), limit); // an edited cursor reads no more than the window
        var take = Math.Min(count, left);
        var bound = new DynamicParameters(parameters);
        bound.Add("Take", take < left ? take + 1L : take); // one more while the window goes on: whether a row follows
        bound.Add("Offset", after is null ? offset : 0);
        var counted = new DynamicParameters(parameters);
        counted.Add("Limit", limit);
        var selected = where;
        if (after is not null)
        {
            selected = (where.Length == 0 ? "WHERE " : where + " AND ") + keyset.After;
            bound.Add("AfterValue", long.Parse(after.SortValue, CultureInfo.InvariantCulture));
            bound.Add("AfterId", long.Parse(after.Id, CultureInfo.InvariantCulture));
        }

        return UseAsync(async (connection, ct) =>
        {
            await using var transaction = await BeginReadAsync(connection, ct);
            // Only the page's rows are read and converted (a usage event's path can be 8 KB).
            var rows = take == 0 ? [] : await QueryAsync<TRow>(connection, transaction,
                $"SELECT {columns} FROM {table} {selected} ORDER BY {orderBy} LIMIT @Take OFFSET @Offset", bound, ct);
            var total = await ScalarAsync(connection, transaction, $"SELECT COUNT(*) FROM (SELECT 1 FROM {table} {where} LIMIT @Limit) window_rows", ct, counted);
            await transaction.CommitAsync(ct);
            var more = rows.Count > take;
            var page = more ? rows.Take(take) : rows;
            return new StorePage<T>(page.Select(convert).ToList(), (int)total, more ? keyset.CursorOf(rows[take - 1]) with { Left = left - take } : null);
        }, cancellationToken);
    }

    /// <summary>
    /// How a table's listing continues after a cursor: <paramref name="After"/>, a condition on <c>@AfterValue</c> and
    /// <c>@AfterId</c> selecting the rows behind that position in the table's order (which ends with <c>id</c>, so no two
    /// rows share a position), and the cursor of a row.
    /// </summary>
    private protected sealed record Keyset<TRow>(string After, Func<TRow, ListCursor> CursorOf);

    /// <summary>A <c>LIKE</c> pattern (escape character <c>\</c>) for text containing <paramref name="text"/> as it is.</summary>
    private protected static string ContainsPattern(string text) =>
        "%" + text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%";

    /// <summary>
    /// <paramref name="text"/> with its ASCII letters lower-cased and every other character as it is: the case fold both
    /// engines make alike (<see cref="AsciiLower(string)"/> in SQL). <see cref="string.ToLowerInvariant()"/> folds every
    /// letter, and so does PostgreSQL's <c>lower()</c>, by its own rules and the database's locale; SQLite's folds ASCII only.
    /// </summary>
    private protected static string AsciiLowerCase(string text) =>
        string.Create(text.Length, text, static (span, source) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = char.IsAsciiLetterUpper(source[i]) ? (char)(source[i] | 0x20) : source[i];
            }
        });

    /// <summary>
    /// The SQL of <paramref name="expression"/> with its ASCII letters lower-cased and every other character as it is
    /// (<see cref="AsciiLowerCase"/>): <c>translate()</c> of A–Z, where <c>lower()</c> would fold by the locale.
    /// </summary>
    private protected virtual string AsciiLower(string expression) =>
        $"translate({expression}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')";

    /// <summary>
    /// The row whose id is <paramref name="reference"/>, else the one <paramref name="byName"/> (a WHERE clause on
    /// <c>@Ref</c>) finds: an exact id always wins, so a name chosen to look like another row's id never stands in for it.
    /// </summary>
    private protected async Task<T?> FindByIdOrNameAsync<TRow, T>(RowTable<TRow> table, Func<TRow, T> convert, string byName, string reference, CancellationToken cancellationToken)
        where TRow : class
        where T : class =>
        await FindAsync(table, convert, "WHERE id = @Ref", reference, cancellationToken) ?? await FindAsync(table, convert, byName, reference, cancellationToken);

    /// <summary>The first row <paramref name="where"/> selects with <c>@Ref</c> = <paramref name="reference"/>, or null.</summary>
    private protected async Task<T?> FindAsync<TRow, T>(RowTable<TRow> table, Func<TRow, T> convert, string where, string reference, CancellationToken cancellationToken)
        where TRow : class
        where T : class
    {
        if (reference.Contains('\0', StringComparison.Ordinal))
        {
            // No row holds a NUL (ids, names and emails refuse control characters), and PostgreSQL cannot be asked about
            // one: its text type refuses the byte, which came back as the store being unavailable (503) for ?user=%00.
            return null;
        }

        var found = await ListAsync(table, convert, where, new { Ref = reference }, cancellationToken);
        return found.Count > 0 ? found[0] : null;
    }

    /// <summary>Runs a SELECT; Dapper maps each row to <typeparamref name="TRow"/> by column name.</summary>
    private protected static async Task<IReadOnlyList<TRow>> QueryAsync<TRow>(
        DbConnection connection, DbTransaction? transaction, string sql, object? parameters, CancellationToken cancellationToken)
    {
        await using var reader = await ReadRowsAsync(connection, new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken));
        var parse = ParserOf<TRow>(reader);
        var rows = new List<TRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(parse(reader));
        }

        return rows;
    }

    /// <summary>Maps a row to a row record by column name, or a row's first column to a plain value (a string, a number, null).</summary>
    private protected static Func<DbDataReader, TRow> ParserOf<TRow>(DbDataReader reader)
    {
        var value = Nullable.GetUnderlyingType(typeof(TRow)) ?? typeof(TRow);
        return Type.GetTypeCode(value) == TypeCode.Object
            ? reader.GetRowParser<TRow>()
            : row => row.IsDBNull(0) ? default! : (TRow)Convert.ChangeType(row.GetValue(0), value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// The first column of the first row, or the default when there is no row or the value is null. Not the driver's
    /// <c>ExecuteScalarAsync</c>: PostgreSQL's reads the value with sequential access, synchronously (<see cref="ReadRowsAsync"/>).
    /// </summary>
    private protected static async Task<T?> FirstValueAsync<T>(
        DbConnection connection, DbTransaction? transaction, string sql, object? parameters, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync<T>(connection, transaction, sql, parameters, cancellationToken);
        return rows.Count > 0 ? rows[0] : default;
    }

    /// <summary>
    /// Runs a SELECT whose rows are mapped as they are read. Not Dapper's <c>QueryAsync</c>: that asks the driver for
    /// sequential access, in which PostgreSQL's driver reads a column's bytes from the socket when the column is mapped,
    /// synchronously — a thread blocked on the network (and, where socket completions run inline, the very thread that
    /// would deliver those bytes: the gateway stops). Read this way the driver holds the whole row when
    /// <c>ReadAsync</c> returns, and mapping it never waits.
    /// </summary>
    private protected static Task<DbDataReader> ReadRowsAsync(DbConnection connection, CommandDefinition command) =>
        connection.ExecuteReaderAsync(command, System.Data.CommandBehavior.SingleResult);

    /// <summary>One statement in a write transaction that also bumps the config version; a constraint violation becomes a conflict.</summary>
    /// <param name="configuration">
    /// True for configuration rows (the write bumps <c>config_version</c> in the same transaction, so running gateways
    /// reload); false for credentials and bookkeeping that snapshots do not contain.
    /// </param>
    /// <param name="unchanged">For an update: write only if the row is unchanged since it was read (<see cref="UpdateIfUnchangedAsync"/>).</param>
    private protected Task WriteAsync(
        string sql, object parameters, StoreConflictException? onConstraint, CancellationToken cancellationToken, bool configuration = true, Unchanged? unchanged = null) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            try
            {
                await ExecuteOrUpdateIfUnchangedAsync(connection, transaction, sql, parameters, unchanged, ct);
            }
            catch (Exception ex) when (IsConstraintViolation(ex))
            {
                throw ConflictOf(ex, onConstraint);
            }

            if (configuration)
            {
                await BumpVersionAsync(connection, transaction, ct);
            }

            return true;
        }, cancellationToken);

    /// <summary>
    /// The row to delete is gone: another request deleted it since the caller read it (the same delete sent twice at
    /// once). The management services read again and answer not found, as for a delete that comes second, rather than
    /// telling both callers they deleted it.
    /// </summary>
    private protected static StoreChangedMeanwhileException DeletedMeanwhile(string table, string id) =>
        new($"the row '{id}' of {table} was deleted by another request at the same time");

    /// <summary>
    /// Deletes a row unless <paramref name="guardSql"/> (with <c>@Ref</c> = id) finds dependents, after running
    /// <paramref name="cascade"/> statements (with <c>@Id</c>) in the same transaction; with <paramref name="readAt"/>,
    /// only while the row is still in that version (<see cref="ThrowIfChangedAsync"/>).
    /// </summary>
    /// <remarks>
    /// The row is locked first (<see cref="LockRowAsync"/>): a write that refers to it (a route re-pointed at the
    /// upstream, a user put on the plan, a key created for the user) holds it shared from its foreign key check until it
    /// commits, so the delete waits for such a write and then runs as if it had come first (the guard names the new
    /// dependent, the cascade removes the new key), and a write that comes after waits for the delete and fails on the
    /// foreign key. Locked later, the cascade's statements (whose triggers move <c>identity_version</c>) would take
    /// locks a key's INSERT needs after the user's row, and the two would deadlock. Should the DELETE still fail on a
    /// foreign key, that is the same refusal as a dependent the guard saw, so it is answered the same way: the guard is
    /// asked again, now that the other write has committed, and names what uses the row.
    /// </remarks>
    private protected async Task DeleteGuardedAsync(
        string table, string id, DateTimeOffset? readAt, string? guardSql, Func<List<string>, StoreConflictException>? conflict, string[] cascade, CancellationToken cancellationToken)
    {
        var referencedMeanwhile = false;
        try
        {
            await WriteTransactionAsync(async (connection, transaction, ct) =>
            {
                await LockRowAsync(connection, transaction, table, id, ct);
                await ThrowIfChangedAsync(connection, transaction, table, id, readAt, ct);
                if (guardSql is not null)
                {
                    await ThrowIfUsedAsync(connection, transaction, guardSql, id, conflict!, ct);
                }

                try
                {
                    foreach (var sql in cascade)
                    {
                        await ExecuteAsync(connection, transaction, sql, ct, new { Id = id });
                    }

                    if (await ExecuteAsync(connection, transaction, $"DELETE FROM {table} WHERE id = @Id", ct, new { Id = id }) == 0)
                    {
                        throw DeletedMeanwhile(table, id);
                    }
                }
                catch (Exception ex) when (IsForeignKeyViolation(ex))
                {
                    referencedMeanwhile = true;
                    throw new StoreConflictException("",
                        "something was made to refer to it at the same time (a route, user, key or plan entitlement); nothing was deleted: check and try again");
                }

                await BumpVersionAsync(connection, transaction, ct);
                return true;
            }, cancellationToken);
        }
        catch (StoreConflictException) when (referencedMeanwhile && guardSql is not null)
        {
            // The other write has committed by now: name what uses the row, as when the guard sees it first.
            await UseAsync(async (connection, ct) =>
            {
                await ThrowIfUsedAsync(connection, null, guardSql, id, conflict!, ct);
                return true;
            }, cancellationToken);
            throw;
        }
    }

    /// <summary>
    /// Locks the row of <paramref name="table"/> with id <paramref name="id"/> for a delete until the transaction ends,
    /// where the engine has row locks (PostgreSQL); nothing otherwise (a SQLite write transaction excludes every other writer).
    /// </summary>
    private protected virtual Task LockRowAsync(DbConnection connection, DbTransaction transaction, string table, string id, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>
    /// For a delete made on the row as read at <paramref name="readAt"/> (a conditional one): throws
    /// <see cref="StoreChangedMeanwhileException"/> when another request changed it since, so the caller reads it again
    /// and checks its condition on the newer row. A row gone meanwhile is left to the DELETE (<see cref="DeletedMeanwhile"/>).
    /// </summary>
    private protected static async Task ThrowIfChangedAsync(
        DbConnection connection, DbTransaction transaction, string table, string id, DateTimeOffset? readAt, CancellationToken ct)
    {
        if (readAt is not { } read)
        {
            return;
        }

        var stored = (await QueryAsync<string>(connection, transaction, $"SELECT updated_at FROM {table} WHERE id = @Id", new { Id = id }, ct)).FirstOrDefault();
        if (stored is not null && StoredValues.Time(stored) != read)
        {
            throw new StoreChangedMeanwhileException($"the row '{id}' of {table} was changed by another request at the same time");
        }
    }

    private static async Task ThrowIfUsedAsync(
        DbConnection connection, DbTransaction? transaction, string guardSql, string id, Func<List<string>, StoreConflictException> conflict, CancellationToken ct)
    {
        var dependents = (await QueryAsync<string>(connection, transaction, guardSql, new { Ref = id }, ct)).ToList();
        if (dependents.Count > 0)
        {
            throw conflict(dependents);
        }
    }

    private protected static Task<int> ExecuteAsync(
        DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, object? parameters = null) =>
        connection.ExecuteAsync(new CommandDefinition(sql, parameters, transaction, cancellationToken: cancellationToken));

    private protected static Task<long> ScalarAsync(
        DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken, object? parameters = null) =>
        FirstValueAsync<long>(connection, transaction, sql, parameters, cancellationToken);

    private protected static StoreConflictException Duplicate(string field, string message) => new(field, message);
}
