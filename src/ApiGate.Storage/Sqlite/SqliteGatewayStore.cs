using System.Data.Common;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using ApiGate.Storage.Rows;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sql;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ApiGate.Storage.Sqlite;

/// <summary>
/// The embedded default store: one SQLite file in WAL mode, so a CLI in another process can write while the gateway
/// reads. Every config write runs in a transaction that also bumps <c>config_version</c>.
/// </summary>
public sealed partial class SqliteGatewayStore : SqlGatewayStore
{
    /// <summary>How long a write waits for the database lock by default (the CLI's patience with a busy gateway or another CLI).</summary>
    public static readonly TimeSpan DefaultBusyTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The settings that choose the store, named in error messages.</summary>
    public const string Setting = "APIGATE_DATABASE_DSN / --database";

    private readonly string _connectionString;
    private readonly string _createConnectionString;
    private readonly bool _inMemory;
    private readonly bool _readOnlyMode;
    private FileIdentity? _opened;

    /// <summary>
    /// The database file <see cref="InitializeAsync"/> created, with the symbolic links on <see cref="Location"/>
    /// followed (where SQLite creates it), or found empty; null when it held something before.
    /// <see cref="RemoveCreatedAsync"/> deletes it, or empties it again (<see cref="_createdInEmptyFile"/>).
    /// </summary>
    private string? _createdFile;

    /// <summary>Whether <see cref="_createdFile"/> was there before, with 0 bytes: made ahead of the store, kept.</summary>
    private bool _createdInEmptyFile;

    /// <summary>
    /// The directories <see cref="InitializeAsync"/> created on the way to the file, deepest first: removed with it by
    /// <see cref="RemoveCreatedAsync"/>, while empty.
    /// </summary>
    private IReadOnlyList<string> _createdDirectories = [];

    /// <summary>
    /// Whether <see cref="InitializeAsync"/> found no schema and left it to the copy (<see cref="SqlGatewayStore.SchemaInCopy"/>):
    /// <see cref="CreateSchemaInCopyAsync"/> creates it in the copy's transaction.
    /// </summary>
    private bool _schemaLeftToCopy;

    /// <summary>
    /// A connection held open from <see cref="InitializeAsync"/> to <see cref="DisposeAsync"/>, so SQLite never removes
    /// the <c>-wal</c> and <c>-shm</c> files while this store uses them (it does when the last connection closes): their
    /// identities, taken once, then stay those of the files every connection of this store writes through.
    /// </summary>
    private SqliteConnection? _anchor;

    private FileIdentity? _walOpened;
    private FileIdentity? _shmOpened;

    /// <param name="dsn">A file path (<c>apigate.db</c>) or a full SQLite connection string (<c>Data Source=…</c>).</param>
    /// <param name="secrets">Encrypts upstream credentials at rest.</param>
    /// <param name="busyTimeout">
    /// How long a write waits for the database lock before it fails with <see cref="StoreBusyException"/> (whole
    /// seconds, at least one); default <see cref="DefaultBusyTimeout"/>.
    /// </param>
    public SqliteGatewayStore(string dsn, SecretProtector secrets, TimeSpan? busyTimeout = null)
        : base(secrets)
    {
        var builder = Builder(dsn);
        _inMemory = IsInMemory(builder);
        if (!_inMemory)
        {
            // SQLite is given the path the store reports and makes directories for: given 'link/../x.db' as written, it
            // followed the link before taking '..' off and opened a file beside the link's target, not the one reported.
            builder.DataSource = Path.GetFullPath(builder.DataSource);
        }

        builder.ForeignKeys = true;
        builder.DefaultTimeout = (int)Math.Max(1, Math.Ceiling((busyTimeout ?? DefaultBusyTimeout).TotalSeconds));
        builder.Pooling = true;
        BusyTimeout = TimeSpan.FromSeconds(builder.DefaultTimeout);
        _readOnlyMode = builder.Mode == SqliteOpenMode.ReadOnly;
        _createConnectionString = builder.ToString();
        if (!_inMemory && builder.Mode == SqliteOpenMode.ReadWriteCreate)
        {
            // Only InitializeAsync creates the file. Afterwards a missing file is an error, not a new empty store
            // that would split the gateway's data in two (old connections on the deleted file, new ones on a fresh one).
            builder.Mode = SqliteOpenMode.ReadWrite;
        }

        _connectionString = builder.ToString();
        DataSource = builder.DataSource;
        Location = builder.DataSource;
    }

    /// <summary>
    /// The database file SQLite opens: its full path, a leading <c>~</c> made the home directory and each <c>..</c> taken
    /// off with the name before it (<see cref="Path.GetFullPath(string)"/>), whether or not that names a directory that is there.
    /// </summary>
    public string DataSource { get; }

    /// <summary>
    /// Why <paramref name="dsn"/> cannot name a store for the gateway and the CLI, or null: a connection string SQLite does
    /// not read (the message names the keyword, never the value), or an in-memory database — every process, and every
    /// connection of one, would get its own empty database ("no such table"), so nothing written would be kept; or the
    /// <c>-wal</c>, <c>-shm</c> or <c>-journal</c> file of a database rather than the database; or a <c>file:</c> URI.
    /// </summary>
    public static string? DsnProblem(string dsn)
    {
        SqliteConnectionStringBuilder builder;
        try
        {
            builder = Builder(dsn);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
        {
            // "Connection string keyword 'bogus' is not supported", "String 'maybe' was not recognized as a valid Boolean":
            // a keyword, or the value of a typed one (never a password's).
            return $"is not a SQLite file path or connection string ({ex.Message.Split(". ", 2)[0].TrimEnd('.')})";
        }

        if (builder.DataSource.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            // SQLite opens the file the URI names, but the store's location, the directory created for it and a copy's
            // check for the source under another name would take it as a file name in the working directory.
            return $"names {builder.DataSource}, a SQLite URI (file:), which is not read as one here: give the database file's path instead";
        }

        if (HomePath.StartsAtHome(builder.DataSource))
        {
            return $"names {builder.DataSource} in the home directory, which is not known here (HOME is not set, or not an absolute path): write the whole path";
        }

        if (builder.Password.Length > 0)
        {
            // Read by the driver, but refused by the SQLite it ships (no encryption) only when the store is opened: after
            // a management verb had created an empty file there, with a message naming neither the setting nor the store.
            return "sets Password, but the SQLite library apigate ships cannot encrypt a database: remove Password (protect the file with its permissions)";
        }

        if (IsInMemory(builder))
        {
            return "names an in-memory database (:memory: or Mode=Memory), which nothing written to would outlive: name a file (e.g. apigate.db)";
        }

        // Opened as a database, a -wal, -shm or -journal file would be made into one, and the database it belongs to
        // would find its log replaced by it: what was written since the last checkpoint lost.
        foreach (var suffix in CompanionSuffixes)
        {
            if (builder.DataSource.EndsWith(suffix, StringComparison.Ordinal) && builder.DataSource.Length > suffix.Length)
            {
                return $"names {builder.DataSource}, the {suffix} file SQLite keeps beside the database {builder.DataSource[..^suffix.Length]}, not a database: " +
                       "name the database file itself";
            }
        }

        return null;
    }

    /// <summary>Whether <paramref name="dsn"/> (one <see cref="DsnProblem"/> accepts) opens its file read-only (<c>Mode=ReadOnly</c>): nothing can be written through it.</summary>
    public static bool OpensReadOnly(string dsn) => Builder(dsn).Mode == SqliteOpenMode.ReadOnly;

    /// <summary>
    /// Why <paramref name="dsn"/> (one <see cref="DsnProblem"/> accepts) opens no store: it sets <c>Mode=ReadWrite</c>,
    /// which opens only an existing file, and there is none; else null. Asked without opening it: SQLite would say only
    /// "unable to open database file".
    /// </summary>
    public static string? MissingFileProblem(string dsn)
    {
        var builder = Builder(dsn);
        return builder.Mode == SqliteOpenMode.ReadWrite && Path.GetFullPath(builder.DataSource) is var path && !File.Exists(path)
            ? $"sets Mode=ReadWrite, which opens only an existing file, and {path} does not exist: leave Mode out or set Mode=ReadWriteCreate"
            : null;
    }

    /// <summary>
    /// Why the file <paramref name="dsn"/> (one <see cref="DsnProblem"/> accepts) names cannot become a database, asked
    /// without opening or creating anything: it is a directory, or symbolic links that loop and so lead to no file; or null.
    /// </summary>
    public static string? PathProblem(string dsn)
    {
        var builder = Builder(dsn);
        if (IsInMemory(builder))
        {
            return null;
        }

        var path = Path.GetFullPath(builder.DataSource);
        if (StoreFile.LinksLoop(path))
        {
            return $"{path} is a symbolic link that leads nowhere (its links loop): name a database file";
        }

        return Directory.Exists(path)
            ? $"{path} is a directory, not a database file: name a file in it (e.g. {Path.Combine(path, "apigate.db")})"
            : null;
    }

    /// <summary>
    /// <paramref name="dsn"/> with its file's leading <c>~</c> made the home directory, as the store reads it: a path
    /// stays a path, and a connection string is written again only when its file starts at home. A connection string
    /// SQLite does not read (which <see cref="DsnProblem"/> refuses) is returned as it is.
    /// </summary>
    public static string HomeExpanded(string dsn)
    {
        if (!dsn.Contains('=', StringComparison.Ordinal))
        {
            return HomePath.Expand(dsn);
        }

        try
        {
            return HomePath.StartsAtHome(new SqliteConnectionStringBuilder(dsn).DataSource) ? Builder(dsn).ToString() : dsn;
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
        {
            return dsn;
        }
    }

    /// <summary>
    /// Which of the store's own files — the database <paramref name="dsn"/> (one <see cref="DsnProblem"/> accepts) names, or
    /// the <c>-wal</c>, <c>-shm</c> or <c>-journal</c> file beside it — <paramref name="path"/> names under any name (the
    /// symbolic links on both followed; a hard link, by device and inode, where both are there), or null. Asked about a file
    /// something else writes, renames or deletes (the usage export): pointed at the store, that destroys it.
    /// </summary>
    public static string? StoreFileAt(string dsn, string path)
    {
        var builder = Builder(dsn);
        if (IsInMemory(builder))
        {
            return null;
        }

        var database = Path.GetFullPath(builder.DataSource);
        var named = StoreFile.ResolveLinks(path);
        var namedIdentity = StoreFile.Identify(named);
        foreach (var file in (string[])[database, .. CompanionSuffixes.Select(suffix => database + suffix)])
        {
            var resolved = StoreFile.ResolveLinks(file);
            if (string.Equals(resolved, named, StringComparison.Ordinal)
                || (namedIdentity is { IsKnown: true } && StoreFile.Identify(resolved) == namedIdentity))
            {
                return file;
            }
        }

        return null;
    }

    /// <summary>The files SQLite keeps beside a database, named after it: its write-ahead log, shared memory and rollback journal.</summary>
    private static readonly string[] CompanionSuffixes = ["-wal", "-shm", "-journal"];

    /// <summary>
    /// The connection string of <paramref name="dsn"/>, its file's leading <c>~</c> made the home directory
    /// (<see cref="HomePath.Expand"/>): every reader of a SQLite DSN (serve, the commands, <c>store copy --to-dsn</c>) comes here.
    /// </summary>
    private static SqliteConnectionStringBuilder Builder(string dsn)
    {
        var builder = dsn.Contains('=', StringComparison.Ordinal) ? new SqliteConnectionStringBuilder(dsn) : new SqliteConnectionStringBuilder { DataSource = dsn };
        if (HomePath.Expand(builder.DataSource) is var expanded && expanded != builder.DataSource)
        {
            builder.DataSource = expanded;
        }

        return builder;
    }

    private static bool IsInMemory(SqliteConnectionStringBuilder builder) =>
        builder.Mode == SqliteOpenMode.Memory || builder.DataSource is "" or ":memory:";

    public override string Location { get; }

    /// <summary>
    /// The database file, whatever name it is given: its device and inode where they can be read (a hard link is the
    /// same file), else its path with the symbolic links on it followed (<see cref="StoreFile.ResolveLinks"/>). Asked
    /// without opening the file, so a second name of the source is refused before SQLite opens it as another database.
    /// </summary>
    public override Task<string> IdentifyAsync(CancellationToken cancellationToken)
    {
        if (_inMemory)
        {
            return Task.FromResult(Location);
        }

        var file = StoreFile.ResolveLinks(Location);
        return Task.FromResult(StoreFile.Identify(file) is { IsKnown: true } identity ? $"inode {identity.Device}:{identity.Inode}" : file);
    }

    /// <summary>
    /// The database file this store created, and the files SQLite kept beside it, deleted once the store is closed; a
    /// symbolic link that named it is kept, as it was before, and a file that was there empty is emptied again. The
    /// directories created for it go too, deepest first, as long as they are empty. A file that held other tables
    /// needs nothing: the schema was created in the copy's transaction, rolled back with it.
    /// </summary>
    private protected override async Task RemoveCreatedAsync()
    {
        await DisposeAsync();
        foreach (var connectionString in (string[])[_connectionString, _createConnectionString])
        {
            using var pooled = new SqliteConnection(connectionString);
            SqliteConnection.ClearPool(pooled);
        }

        if (_createdFile is not { } created)
        {
            return;
        }

        foreach (var file in (string[])[created, .. CompanionSuffixes.Select(suffix => created + suffix)])
        {
            try
            {
                if (_createdInEmptyFile && file == created)
                {
                    // The file itself (its owner, mode and inode) was made ahead of the store: only its content goes.
                    new FileStream(file, FileMode.Truncate, FileAccess.Write).Dispose();
                }
                else
                {
                    File.Delete(file);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The failure that stopped the copy is the one to report; the file is empty but for the schema.
            }
        }

        RemoveCreatedDirectories();
    }

    /// <summary>
    /// The directories <see cref="InitializeAsync"/> created (<see cref="_createdDirectories"/>), deepest first, each
    /// only while empty; one not there (never made, its creation having failed) is passed over.
    /// </summary>
    private void RemoveCreatedDirectories()
    {
        foreach (var directory in _createdDirectories)
        {
            try
            {
                if (Directory.Exists(directory))
                {
                    Directory.Delete(directory); // not recursive: only while empty
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                break; // something else was put in it: kept, and so is every directory above it
            }
        }

        _createdDirectories = [];
    }

    /// <summary>How long a write waits for the database lock (the connection's default timeout).</summary>
    public TimeSpan BusyTimeout { get; }

    public override async Task InitializeAsync(CancellationToken cancellationToken)
    {
        // Through the links: File.Exists is true for a link to a file not there yet, which SQLite creates at its target.
        var file = _inMemory ? Location : StoreFile.ResolveLinks(Location);
        var existed = _inMemory || File.Exists(file);
        // SQLite makes a database of a 0-byte file as of a missing one: the store is new all the same.
        var emptyBefore = existed && !_inMemory && new FileInfo(file).Length == 0;
        if (!_inMemory)
        {
            try
            {
                var directory = Path.GetDirectoryName(Location);
                if (!string.IsNullOrEmpty(directory))
                {
                    var missing = new List<string>();
                    for (var up = directory; !string.IsNullOrEmpty(up) && !Directory.Exists(up); up = Path.GetDirectoryName(up))
                    {
                        missing.Add(up);
                    }

                    // Known before they are made: a failure part of the way removes those made so far.
                    _createdDirectories = missing;
                    Directory.CreateDirectory(directory);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                RemoveCreatedDirectories();
                throw new StoreUnavailableException($"cannot create the directory of the store at {Location} ({Setting}): {ex.Message}", ex);
            }
        }

        try
        {
            await OpenCreatedAsync(file, existed, emptyBefore, cancellationToken);
        }
        catch
        {
            // A store that could not be opened leaves no directory made for it behind (an empty one, nor the empty
            // ones above it), whatever the failure; the error is the one to report, as it is.
            RemoveCreatedDirectories();
            throw;
        }
    }

    /// <summary>
    /// The rest of <see cref="InitializeAsync"/>, once the directories are there: the file opened (created when
    /// missing) and migrated, or left to the copy.
    /// </summary>
    private async Task OpenCreatedAsync(string file, bool existed, bool emptyBefore, CancellationToken cancellationToken)
    {
        try
        {
            await MigrateAsync(cancellationToken);
        }
        catch (SqliteException ex) when (IsReadOnly(ex))
        {
            throw ReadOnlyStore(ex);
        }
        catch (SqliteException ex) when (!IsBusy(ex))
        {
            throw CannotOpen(ex);
        }

        // A file holding other tables but no store is a new store too: the copy creates the schema in it.
        Created = !existed || emptyBefore || _schemaLeftToCopy;
        (_createdFile, _createdInEmptyFile) = ((!existed || emptyBefore) && !_inMemory ? file : null, emptyBefore);
        _opened = _inMemory ? null : StoreFile.Identify(Location);
        // A file this user may not write (yet) would be opened read-only, and such a connection does not keep the -wal
        // and -shm files (and would hand its read-only descriptor to connections opened once the permissions are fixed).
        if (!_inMemory && !_readOnlyMode && _anchor is null && !_schemaLeftToCopy && StoreFile.Unwritable(Location).Count == 0)
        {
            await AnchorAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Opens <see cref="_anchor"/> and reads through it (which opens the <c>-wal</c> and <c>-shm</c> files), then takes
    /// those files' identities for <see cref="FileProblem"/>.
    /// </summary>
    private async Task AnchorAsync(CancellationToken cancellationToken)
    {
        var anchor = new SqliteConnection(new SqliteConnectionStringBuilder(_connectionString) { Pooling = false }.ToString());
        try
        {
            await anchor.OpenAsync(cancellationToken);
            await ScalarAsync(anchor, null, "SELECT version FROM config_version WHERE id = 1", cancellationToken);
        }
        catch (SqliteException)
        {
            // Not needed to serve: without it the -wal and -shm files are not watched.
            await anchor.DisposeAsync();
            return;
        }

        _anchor = anchor;
        _walOpened = StoreFile.Identify(Location + "-wal");
        _shmOpened = StoreFile.Identify(Location + "-shm");
    }

    private async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = new SqliteConnection(_createConnectionString);
        await connection.OpenAsync(cancellationToken);
        var applied = new List<(int, string)>();
        // A store that is up to date is only read: a start then needs no write lock, so it is not held up (or refused
        // after the busy timeout) by another process writing, such as a CLI command or a backup.
        var present = await FirstValueAsync<bool>(connection, null, HasSchemaQuery, null, cancellationToken)
            ? await ScalarAsync(connection, null, "SELECT COUNT(*) FROM schema_migrations WHERE version <= @Last", cancellationToken, new { Last = SqliteMigrations.All[^1].Version })
            : -1;
        if (present < 0 && SchemaInCopy)
        {
            // Nothing is written to the file (not even its journal mode, which the first start sets) until the copy,
            // which creates the schema in its own transaction: a copy that fails leaves a file of other tables as it was.
            _schemaLeftToCopy = true;
            MigrationsApplied = applied;
            SchemaVersion = SqliteMigrations.All[^1].Version;
            return;
        }

        await ExecuteAsync(connection, null, "PRAGMA journal_mode = WAL;", cancellationToken);
        if (present >= 0)
        {
            // Before anything is applied: a store a newer build migrated is refused as newer even where one of this
            // build's migrations is missing from it (a gap), not called older and migrated under that build.
            SchemaVersion = await RefuseNewerSchemaAsync(connection, SqliteMigrations.All[^1].Version, cancellationToken);
        }

        if (present == SqliteMigrations.All.Length)
        {
            await FillMissingEmailKeysAsync(connection, cancellationToken);
            MigrationsApplied = applied;
            return;
        }

        if (present > 0 && !MigrateExisting)
        {
            var version = (int)await ScalarAsync(connection, null, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", cancellationToken);
            throw OlderSchema(version, SqliteMigrations.All[^1].Version);
        }

        await ExecuteAsync(connection, null, "CREATE TABLE IF NOT EXISTS " + SchemaMigrationsTable, cancellationToken);
        foreach (var (version, name, sql) in SqliteMigrations.All)
        {
            // BEGIN IMMEDIATE: two processes starting together must not both apply a migration.
            await using var transaction = BeginWrite(connection);
            if (await ScalarAsync(connection, transaction, "SELECT COUNT(*) FROM schema_migrations WHERE version = @Version", cancellationToken, new { Version = version }) > 0)
            {
                await transaction.RollbackAsync(cancellationToken);
                continue;
            }

            await ApplyMigrationAsync(connection, transaction, version, name, sql, cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            applied.Add((version, name));
        }

        await FillMissingEmailKeysAsync(connection, cancellationToken);
        MigrationsApplied = applied;
        SchemaVersion = await RefuseNewerSchemaAsync(connection, SqliteMigrations.All[^1].Version, cancellationToken);
    }

    /// <summary>
    /// <see cref="SqlGatewayStore.FillMissingEmailKeysAsync"/> in a write transaction (BEGIN IMMEDIATE), unless the store
    /// was opened read-only: its users without a key are still found by their addresses as stored.
    /// </summary>
    private Task FillMissingEmailKeysAsync(SqliteConnection connection, CancellationToken cancellationToken) =>
        _readOnlyMode ? Task.CompletedTask : FillMissingEmailKeysAsync(connection, _ => Task.FromResult<DbTransaction>(BeginWrite(connection)), cancellationToken);

    /// <summary>SQLite has no <c>ADD COLUMN IF NOT EXISTS</c>: asked first, so migration 26 is safe to apply again.</summary>
    private protected override async Task AddEmailKeyColumnAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken)
    {
        if (await ScalarAsync(connection, transaction, "SELECT COUNT(*) FROM pragma_table_info('users') WHERE name = 'email_key'", cancellationToken) == 0)
        {
            await ExecuteAsync(connection, transaction, "ALTER TABLE users ADD COLUMN email_key TEXT NOT NULL DEFAULT ''", cancellationToken);
        }
    }

    /// <summary>Whether the file holds a store yet (its table of migrations).</summary>
    private const string HasSchemaQuery = "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')";

    /// <summary>
    /// Every migration in the copy's transaction, when <see cref="InitializeAsync"/> left the schema to it: SQLite's DDL
    /// is transactional, so a copy that fails takes the schema with it.
    /// </summary>
    private protected override Task CreateSchemaInCopyAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        _schemaLeftToCopy ? CreateSchemaAsync(connection, transaction, HasSchemaQuery, SqliteMigrations.All, cancellationToken) : Task.CompletedTask;

    public override async Task<StoreCheck> CheckAsync(CancellationToken cancellationToken)
    {
        if (FileProblem() is { } problem)
        {
            return problem;
        }

        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            if (await ScalarAsync(connection, null, "SELECT version FROM config_version WHERE id = 1", cancellationToken) <= 0)
            {
                return new StoreCheck("unreachable", $"the store at {Location} ({Setting}) has no config version row");
            }

            if (_diskFull is { } full)
            {
                return new StoreCheck(StoreCheck.Full, full);
            }

            // Readable but not writable: serving goes on, changes and usage cannot be stored (one access(2) per file).
            if (!_inMemory && !_readOnlyMode && StoreFile.Unwritable(Location) is { Count: > 0 } unwritable)
            {
                return new StoreCheck(StoreCheck.ReadOnly, ReadOnlyReason(unwritable));
            }

            return !_readOnlyMode && await LockedElsewhereAsync(connection, cancellationToken)
                ? new StoreCheck(StoreCheck.Locked, LockedReason())
                : StoreCheck.Ok;
        }
        catch (SqliteException ex) when (IsBusy(ex))
        {
            // Even reading waits for the lock: another process keeps the file to itself (locking_mode=EXCLUSIVE).
            return new StoreCheck(StoreCheck.Locked, LockedReason());
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

    public override ValueTask DisposeAsync()
    {
        DisposeUsageWriter();
        lock (_anchorUse)
        {
            foreach (var command in _prepared.Values)
            {
                command.Dispose();
            }

            _prepared.Clear();
            Interlocked.Exchange(ref _anchor, null)?.Dispose();
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Taken by whoever reads through <see cref="_anchor"/> (<see cref="TryReadOnAnchor"/>), and by <see cref="DisposeAsync"/>.</summary>
    private readonly Lock _anchorUse = new();

    /// <summary>The statements read through <see cref="_anchor"/>, each prepared once, by their SQL.</summary>
    private readonly Dictionary<string, SqliteCommand> _prepared = new(StringComparer.Ordinal);

    /// <summary>
    /// How long a read through <see cref="_anchor"/> waits for a lock (in WAL mode a read waits only for a file held
    /// exclusively, or a recovery) before it gives up and the ordinary read, with the store's busy timeout, takes over:
    /// whole seconds, as the driver counts them.
    /// </summary>
    private const int AnchorReadTimeoutSeconds = 1;

    /// <summary>Reads answered through <see cref="_anchor"/> (tests show the kept connection is the one used).</summary>
    internal long AnchorReads => Interlocked.Read(ref _anchorReads);

    private long _anchorReads;

    /// <summary>
    /// The versions, which every gateway's config poll reads four times a second: through <see cref="_anchor"/> (see
    /// <see cref="TryReadOnAnchor"/>), else as every other query reads.
    /// </summary>
    public override Task<StoreVersions> GetVersionsAsync(CancellationToken cancellationToken) =>
        TryReadOnAnchor(VersionsSql, null, static r => r.Read() ? new StoreVersions(r.GetInt64(0), r.GetInt64(1), r.GetInt64(2)) : (StoreVersions?)null, cancellationToken) is { } versions
            ? Task.FromResult(versions)
            : base.GetVersionsAsync(cancellationToken);

    /// <summary>
    /// What the webhook outbox could lease, which every gateway asks once a second: through <see cref="_anchor"/> (see
    /// <see cref="TryReadOnAnchor"/>), else as every other query reads.
    /// </summary>
    private protected override Task<IReadOnlyList<long>> DueWebhookDeliveriesAsync(string at, int max, CancellationToken cancellationToken) =>
        TryReadOnAnchor<IReadOnlyList<long>>(ClaimCandidatesSql, parameters =>
            {
                parameters.AddWithValue("@Now", at);
                parameters.AddWithValue("@Max", max);
            }, static r =>
            {
                var ids = new List<long>();
                while (r.Read())
                {
                    ids.Add(r.GetInt64(0));
                }

                return ids;
            }, cancellationToken) is { } due
            ? Task.FromResult(due)
            : base.DueWebhookDeliveriesAsync(at, max, cancellationToken);

    /// <summary>
    /// Runs a read that background loops repeat every second or faster (the config poll, the webhook outbox) through
    /// <see cref="_anchor"/>, the connection this store keeps open anyway, with the statement prepared once. Through a
    /// pooled connection each read parsed its SQL again, and at rest, with the caches cold after each sleep, the config
    /// poll cost more than half a millisecond of CPU a look (docs/performance.md, "A gateway at rest, a third time"). Returns null (the
    /// caller then reads as every other query does, which reports a failure as before) without an anchor (in memory,
    /// read-only), once the store's file or its <c>-wal</c> or <c>-shm</c> was deleted or replaced (three <c>stat</c>s a
    /// read), while another read uses it, when <paramref name="read"/> returns null, or when the read fails (the
    /// file held exclusively for over <see cref="AnchorReadTimeoutSeconds"/>, damaged, a table missing; the statement is
    /// prepared again next time).
    /// </summary>
    private T? TryReadOnAnchor<T>(string sql, Action<SqliteParameterCollection>? bind, Func<SqliteDataReader, T?> read, CancellationToken cancellationToken)
    {
        // The kept connection is on the files opened at start: once one was deleted or replaced (readiness reports it), the
        // ordinary read answers, as it did before (a fresh connection fails to open a deleted file).
        if (Volatile.Read(ref _anchor) is null || cancellationToken.IsCancellationRequested || FileProblem() is not null || !_anchorUse.TryEnter())
        {
            return default;
        }

        try
        {
            if (_anchor is not { } anchor)
            {
                return default;
            }

            if (!_prepared.TryGetValue(sql, out var command))
            {
                command = anchor.CreateCommand();
                command.CommandText = sql;
                command.CommandTimeout = AnchorReadTimeoutSeconds;
                _prepared[sql] = command;
            }

            command.Parameters.Clear();
            bind?.Invoke(command.Parameters);
            using var reader = command.ExecuteReader();
            var result = read(reader);
            Interlocked.Increment(ref _anchorReads);
            return result;
        }
        catch (Exception)
        {
            // Whatever it was, the ordinary read reports it (as a failed task, not thrown here).
            if (_prepared.Remove(sql, out var failed))
            {
                failed.Dispose();
            }

            return default;
        }
        finally
        {
            _anchorUse.Exit();
        }
    }

    /// <summary>How often, and how far apart, <see cref="LockedElsewhereAsync"/> asks for the write lock before it calls the store locked.</summary>
    private const int LockProbeAttempts = 3;

    private static readonly TimeSpan LockProbeInterval = TimeSpan.FromMilliseconds(50);

    /// <summary>
    /// Whether another connection or process holds the write lock. Reads go on under such a lock, so the query of <see cref="CheckAsync"/> does not show
    /// it, while every write would wait <see cref="BusyTimeout"/> and fail. Asks with <c>BEGIN IMMEDIATE</c> and no busy
    /// wait (rolled back at once, nothing written), a few times <see cref="LockProbeInterval"/> apart without holding a
    /// thread, so a CLI's short write is not reported; in this process's write turn, so its own writes are never taken
    /// for another's lock. When the turn stays taken, the write holding it tells: it is waiting for the lock (its own
    /// writes never wait for each other there), or the last one gave up on it.
    /// </summary>
    private async Task<bool> LockedElsewhereAsync(SqliteConnection connection, CancellationToken cancellationToken)
    {
        if (_inMemory)
        {
            return false;
        }

        if (!await _writeTurn.WaitAsync(LockProbeInterval * LockProbeAttempts, cancellationToken))
        {
            return Volatile.Read(ref _waitingForLock) || Volatile.Read(ref _lastWriteGaveUp);
        }

        try
        {
            for (var attempt = 1; ; attempt++)
            {
                var result = raw.sqlite3_exec(connection.Handle, "BEGIN IMMEDIATE");
                if (result == raw.SQLITE_OK)
                {
                    raw.sqlite3_exec(connection.Handle, "ROLLBACK");
                    return false;
                }

                if (result is not (raw.SQLITE_BUSY or raw.SQLITE_LOCKED) || attempt == LockProbeAttempts)
                {
                    // Busy after every attempt is the lock; any other refusal is for the write path to report.
                    return result is raw.SQLITE_BUSY or raw.SQLITE_LOCKED;
                }

                await Task.Delay(LockProbeInterval, cancellationToken);
            }
        }
        finally
        {
            _writeTurn.Release();
        }
    }

    private string LockedReason() =>
        $"the store at {Location} ({Setting}) is locked by another connection or process (a CLI command, a backup, a tool with a " +
        $"transaction left open): traffic is served, but changes are refused after waiting {BusyTimeout.TotalSeconds:0} s for it and usage is " +
        "held in memory until it is released";

    private protected override async Task<DbConnection> OpenConnectionAsync(CancellationToken cancellationToken) => await OpenAsync(cancellationToken);

    private protected override bool Exists => _inMemory || File.Exists(Location);

    private protected override string TableExistsSql => "SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = @Table";

    private protected override Task<DbTransaction> BeginWriteAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(BeginWrite((SqliteConnection)connection));

    private protected override Task<DbTransaction> BeginReadAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Task.FromResult<DbTransaction>(((SqliteConnection)connection).BeginTransaction(deferred: true));

    // The email column is COLLATE NOCASE, so `=` ignores ASCII case as SQLite's lower() does (it folds nothing else, and
    // stored emails are canonical: Emails.Canonical) and is answered by the column's unique index; lower(email) is not
    // indexed here and read every user's row (~135 ms a lookup with 100,000 users).
    internal override string EmailIsRef => "WHERE email = @Ref";

    // SQLite's lower() folds ASCII letters only (this build has no ICU), which is what AsciiLower asks for; it has no translate().
    private protected override string AsciiLower(string expression) => $"lower({expression})";

    private protected override bool IsConstraintViolation(Exception exception) => exception is SqliteException { SqliteErrorCode: 19 /* SQLITE_CONSTRAINT */ };

    private protected override bool IsForeignKeyViolation(Exception exception) =>
        exception is SqliteException { SqliteExtendedErrorCode: 787 /* SQLITE_CONSTRAINT_FOREIGNKEY */ };

    /// <summary>
    /// SQLite lets one writer in at a time; the others wait in its busy handler, a thread each, and give up after
    /// <see cref="BusyTimeout"/> — so a burst of this process's own writes (90 admin changes at once) failed as
    /// <c>store_busy</c> although nothing else held the file. They queue here instead, in order and without holding a
    /// thread; the busy timeout is left to other processes (the CLI, a backup, another instance on the same file).
    /// </summary>
    /// <remarks>
    /// A write that gives up on another process's lock has held the turn for the whole busy timeout, and each write
    /// queued behind it would wait that long again: three admin changes at once answered after 6 s instead of 2. So a
    /// write whose turn comes after one ahead of it gave up on the lock gives up too, at once: it has waited for the
    /// same lock, and the busy timeout bounds the wait of every write, not of each in turn.
    /// </remarks>
    private protected override async ValueTask<IDisposable?> EnterWriteAsync(CancellationToken cancellationToken)
    {
        var givenUpBefore = Volatile.Read(ref _lockGivenUp);
        await _writeTurn.WaitAsync(cancellationToken);
        if (Volatile.Read(ref _lockGivenUp) != givenUpBefore)
        {
            _writeTurn.Release();
            throw new StoreBusyException(
                $"the store at {Location} ({Setting}) is locked by another connection or process: a write queued ahead of this one gave up after waiting {BusyTimeout.TotalSeconds:0} s for it");
        }

        return new WriteTurn(_writeTurn);
    }

    private readonly SemaphoreSlim _writeTurn = new(1, 1);

    /// <summary>How many writes gave up waiting for the lock (<see cref="BeginWrite"/>); read by <see cref="EnterWriteAsync"/>.</summary>
    private long _lockGivenUp;

    /// <summary>Whether the last write that asked for the lock gave up on it (readiness, while a write holds the turn).</summary>
    private bool _lastWriteGaveUp;

    /// <summary>Whether the write in the turn is asking SQLite for the lock (<see cref="BeginWrite"/>; readiness).</summary>
    private bool _waitingForLock;

    private sealed class WriteTurn(SemaphoreSlim turn) : IDisposable
    {
        private SemaphoreSlim? _turn = turn;

        public void Dispose() => Interlocked.Exchange(ref _turn, null)?.Release();
    }

    /// <summary>
    /// A write the file's permissions refused (SQLITE_READONLY) is the store being unavailable, with the reason; a lock
    /// held past the busy timeout (by another process: this one's writes queue in the write turn) is the store busy.
    /// </summary>
    private protected override Exception? Translate(Exception exception) =>
        exception is not SqliteException ex ? null
        : IsReadOnly(ex) ? ReadOnlyStore(ex)
        : IsBusy(ex) ? Busy(ex)
        : IsFileError(ex) ? Unreadable(ex)
        : null;

    /// <summary>
    /// The file could not be read or opened as a database (SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_CANTOPEN, SQLITE_NOTADB):
    /// a connection opened after the -wal and -shm files were deleted meets "disk I/O error", one on a file replaced
    /// under it may meet a malformed image. The store is unavailable, not the request broken (it answered 500): with
    /// the file check's reason when it has one, else SQLite's words and the path.
    /// </summary>
    private StoreUnavailableException Unreadable(SqliteException ex) =>
        FileProblem() is { } problem
            ? new(problem.Reason, ex)
            : new($"the store at {Location} ({Setting}) cannot be read: {Reason(ex)}", ex);

    private static bool IsFileError(SqliteException ex) => (ex.SqliteErrorCode & 0xff) is 10 /* SQLITE_IOERR */ or 11 /* SQLITE_CORRUPT */ or 14 /* SQLITE_CANTOPEN */ or 26 /* SQLITE_NOTADB */;

    // As InitializeAsync: the first statement is where SQLite reads the file's header (opening it reads nothing), so a
    // file that is no database (SQLITE_NOTADB) shows up here and is reported as the store that cannot be opened.
    private protected override Exception? TranslateAtStart(Exception exception) =>
        exception is SqliteException ex && !IsReadOnly(ex) && !IsBusy(ex) ? CannotOpen(ex) : Translate(exception);

    private StoreBusyException Busy(SqliteException ex) =>
        new($"the store at {Location} ({Setting}) is locked by another connection or process: gave up after waiting {BusyTimeout.TotalSeconds:0} s for it ({Reason(ex)})", ex);

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = await OpenPooledAsync(cancellationToken);
        if (!_readOnlyMode && !_inMemory && raw.sqlite3_db_readonly(connection.Handle, utf8z.FromSpan("main\0"u8)) == 1)
        {
            // SQLite opens a file it may not write read-only without a word, and the pool would hand that connection
            // out again after the permissions are fixed: drop the pooled ones and open the file afresh, so writes work
            // again without a restart (while the file stays read-only, every use opens it anew: slower, still correct).
            ForgetPooledConnections();
            await connection.DisposeAsync();
            connection = await OpenPooledAsync(cancellationToken);
        }

        return connection;
    }

    private async Task<SqliteConnection> OpenPooledAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken);
        }
        catch (SqliteException ex)
        {
            await connection.DisposeAsync();
            throw IsReadOnly(ex) ? ReadOnlyStore(ex) : CannotOpen(ex);
        }

        return connection;
    }

    /// <summary>
    /// Closes this store's idle pooled connections and keeps the ones in use from going back to the pool, so the next
    /// use opens the file again (with the permissions it has now).
    /// </summary>
    private void ForgetPooledConnections()
    {
        foreach (var connectionString in (string[])[_connectionString, _createConnectionString])
        {
            using var any = new SqliteConnection(connectionString);
            SqliteConnection.ClearPool(any);
        }
    }

    /// <summary>
    /// BEGIN IMMEDIATE: takes the write lock now, waiting up to <see cref="BusyTimeout"/> for it. In WAL mode a write
    /// transaction needs no other lock, so this is the only place a write waits for another writer.
    /// </summary>
    private SqliteTransaction BeginWrite(SqliteConnection connection)
    {
        // A write to a file no longer at the configured path would be acknowledged and lost (or go to the wrong store).
        if (FileProblem() is { } problem)
        {
            throw new StoreUnavailableException(problem.Reason);
        }

        try
        {
            Volatile.Write(ref _waitingForLock, true);
            var transaction = connection.BeginTransaction(deferred: false);
            Volatile.Write(ref _lastWriteGaveUp, false);
            return transaction;
        }
        catch (SqliteException ex) when (IsBusy(ex))
        {
            Volatile.Write(ref _lastWriteGaveUp, true);
            Interlocked.Increment(ref _lockGivenUp);
            throw Busy(ex);
        }
        finally
        {
            Volatile.Write(ref _waitingForLock, false);
        }
    }

    /// <summary>
    /// Whether the file at the configured path is still the one this store opened: null when it is (or for an in-memory
    /// store); else the readiness check's answer. One <c>stat</c> of the path.
    /// </summary>
    private StoreCheck? FileProblem()
    {
        if (_inMemory || _opened is not { } opened)
        {
            return null;
        }

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

        return JournalProblem("-wal", _walOpened) ?? JournalProblem("-shm", _shmOpened);
    }

    /// <summary>
    /// Whether the store's <paramref name="suffix"/> file (<c>-wal</c>, <c>-shm</c>) is still the one its connections
    /// write through. Deleted under a running gateway, its writes went on into the deleted file, acknowledged, visible
    /// to no other process, and gone at the next start.
    /// </summary>
    private StoreCheck? JournalProblem(string suffix, FileIdentity? opened)
    {
        if (opened is not { IsKnown: true } known)
        {
            return null;
        }

        var current = StoreFile.Identify(Location + suffix);
        if (current is { IsKnown: true } now && now == known)
        {
            return null;
        }

        return new StoreCheck(current is null ? "unreachable" : "replaced",
            $"the store's {suffix} file at {Location}{suffix} ({Setting}) was {(current is null ? "deleted or moved" : "replaced")} after the " +
            "gateway opened the store, and its connections still use the old one: a change written now would reach no other process " +
            "and be lost at the next start, so none is written; restart the gateway to open the store afresh");
    }

    private static bool IsBusy(SqliteException ex) => ex.SqliteErrorCode is 5 /* SQLITE_BUSY */ or 6 /* SQLITE_LOCKED */;

    private static bool IsFull(SqliteException ex) => (ex.SqliteErrorCode & 0xff) == 13; // SQLITE_FULL

    private static bool IsReadOnly(SqliteException ex) => (ex.SqliteErrorCode & 0xff) == 8; // SQLITE_READONLY and its extended codes

    private StoreUnavailableException CannotOpen(SqliteException ex) =>
        new($"cannot open the store at {Location} ({Setting}): {Reason(ex)}", ex);

    /// <summary>
    /// A write refused because the file, its <c>-wal</c> or <c>-shm</c>, or its directory may not be written by this
    /// process's user: names them and the user. The connections that met it are not used again.
    /// </summary>
    private StoreUnavailableException ReadOnlyStore(SqliteException ex)
    {
        ForgetPooledConnections();
        if (_readOnlyMode)
        {
            return new($"the store at {Location} ({Setting}) is opened with Mode=ReadOnly, so nothing can be written to it: remove Mode=ReadOnly from the setting", ex);
        }

        return new(ReadOnlyReason(StoreFile.Unwritable(Location)), ex);
    }

    /// <summary>Why the store cannot be written: the files that cannot be, the user, and the remedy.</summary>
    private string ReadOnlyReason(IReadOnlyList<string> unwritable)
    {
        var user = Environment.UserName;
        var which = unwritable.Count > 0 ? $"{string.Join(", ", unwritable)} cannot be written by {user}; " : "";
        return $"the store at {Location} ({Setting}) is read-only for the user this process runs as, {user}: {which}make the database " +
               "file, its -wal and -shm files and its directory writable by that user";
    }

    /// <summary>SQLite's own words without the driver's "SQLite Error 14: '…'" wrapping.</summary>
    private static string Reason(SqliteException ex)
    {
        var message = ex.Message;
        var first = message.IndexOf('\'');
        var last = message.LastIndexOf('\'');
        return first >= 0 && last > first ? message[(first + 1)..last] : message;
    }
}
