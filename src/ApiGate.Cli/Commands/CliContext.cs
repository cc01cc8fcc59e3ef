using ApiGate.Cli.Settings;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Hosting;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sqlite;
using ApiGate.Storage;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Cli.Commands;

/// <summary>What every command needs: output streams, the environment, and the resolved settings and store.</summary>
internal sealed class CliContext(TextWriter output, TextWriter error, Func<string, string?> environment, IEnumerable<string>? environmentNames = null)
{
    private bool _warnedAboutVariables;

    public TextWriter Output { get; } = output;

    public TextWriter Error { get; } = error;

    public Func<string, string?> Environment { get; } = environment;

    /// <summary>How refusals of the configured store name its setting.</summary>
    private const string DsnSetting = "database.dsn (APIGATE_DATABASE_DSN / --database)";

    /// <summary>The command line being run (set before its command's body), so refusals can name the flag typed.</summary>
    public System.CommandLine.ParseResult? Parse { get; set; }

    /// <summary>How long <c>store copy</c> waits for a PostgreSQL target's locks held elsewhere; null = the store's default.</summary>
    public TimeSpan? CopyLockTimeout { get; init; }

    /// <summary>Resolves settings (flags &gt; env &gt; file &gt; stored &gt; defaults).</summary>
    /// <remarks>The first call also warns on stderr about <c>APIGATE_*</c> variables no setting reads.</remarks>
    /// <param name="defaults">The command's own defaults by dotted key, beneath every source (<c>demo</c>'s store file).</param>
    /// <param name="unreadableStore">See <see cref="SettingsLoader.LoadAsync"/>: given, a store that cannot be read is passed to it instead of thrown.</param>
    public Task<LoadedSettings> LoadSettingsAsync(
        string? configPath, IReadOnlyDictionary<string, string?>? flags, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? defaults = null,
        Action<Exception>? unreadableStore = null)
    {
        if (!_warnedAboutVariables && environmentNames is not null)
        {
            _warnedAboutVariables = true;
            foreach (var warning in GatewaySettings.UnknownVariables(environmentNames))
            {
                Error.WriteLine(warning);
            }
        }

        return new SettingsLoader(Environment, ReadStoredSettingsAsync).LoadAsync(configPath, flags ?? new Dictionary<string, string?>(), cancellationToken, defaults, unreadableStore);
    }

    /// <summary>What the settings would resolve to with <paramref name="stored"/> as the stored settings (see <see cref="SettingsLoader.LoadWith"/>).</summary>
    public LoadedSettings LoadSettingsWith(
        string? configPath, IReadOnlyDictionary<string, string?> flags, IReadOnlyList<KeyValuePair<string, string>> stored,
        IReadOnlyList<KeyValuePair<string, string>>? onTop = null) =>
        new SettingsLoader(Environment).LoadWith(configPath, flags, stored, onTop);

    /// <summary>The settings kept in the store, read without creating or migrating it (none when it is not there yet).</summary>
    private static async Task<IReadOnlyList<KeyValuePair<string, string>>> ReadStoredSettingsAsync(string driver, string dsn, CancellationToken cancellationToken)
    {
        await using var store = GatewayStores.Create(driver, dsn, new SecretProtector(null));
        var stored = await store.ReadStoredSettingsBeforeStartAsync(cancellationToken);
        return stored.Select(s => KeyValuePair.Create(s.Key, s.Value)).ToList();
    }

    /// <summary>
    /// Opens (and migrates) the configured store and says which on stderr (stdout stays clean for <c>--json</c> and
    /// <c>KEY=$(apigate keys create …)</c>): <c>created a new store at …</c> when nothing was there, so a mistyped path or
    /// a deleted file does not pass silently. <paramref name="serving"/>: for <c>serve</c>, which logs it instead and
    /// waits <see cref="GatewayOptions.StoreBusyTimeout"/> (not 30 s) for the database lock.
    /// </summary>
    /// <param name="existing">
    /// The store must exist already (what it is for: <c>to copy from</c>): a new one is refused, not created. Null: it may be created.
    /// </param>
    /// <param name="migrate">
    /// Apply pending migrations to a store an older apigate created (<c>serve</c>, <c>migrate</c>, <c>demo</c>). Other
    /// commands refuse such a store and leave it as it is: a management command run with a newly installed binary
    /// while the old gateway still serves must not migrate the store under it.
    /// </param>
    public async Task<IGatewayStore> OpenStoreAsync(
        GatewayOptions options, CancellationToken cancellationToken, bool serving = false, bool managing = false, string? existing = null, bool migrate = false) =>
        (await OpenAsync(options, cancellationToken, serving, managing, existing, migrate, orNone: false))!;

    /// <summary>
    /// The configured store when there is one (opened, not migrated), or null — nothing created: for a command that only
    /// reads what is stored (<c>config validate</c>), which must not leave a new store behind where there was none.
    /// </summary>
    public Task<IGatewayStore?> OpenStoreIfAnyAsync(GatewayOptions options, CancellationToken cancellationToken) =>
        OpenAsync(options, cancellationToken, serving: false, managing: false, existing: null, migrate: false, orNone: true);

    private async Task<IGatewayStore?> OpenAsync(
        GatewayOptions options, CancellationToken cancellationToken, bool serving, bool managing, string? existing, bool migrate, bool orNone)
    {
        // A store opened to be used, or to be made if it is not there yet, that SQLite cannot make: said before it is opened,
        // naming the setting, not as SQLite's "unable to open database file".
        if (existing is null && options.DatabaseDriver == GatewayStores.Sqlite && SqliteGatewayStore.MissingFileProblem(options.DatabaseDsn) is { } missing)
        {
            throw new ArgumentException($"{DsnSetting}: {missing}");
        }

        var store = GatewayStores.Create(options.DatabaseDriver, options.DatabaseDsn, new SecretProtector(options.SecretKey, options.SecretKeyPrevious), serving ? options.StoreBusyTimeout : null);
        store.MigrateExisting = migrate;
        store.Waiting = message => Error.WriteLine("warning: " + message);
        var noStore = $"{DsnSetting}: there is no store at {store.Location} {existing}; check the path or DSN";
        if (managing && options.DatabaseDriver == GatewayStores.Sqlite && Path.GetDirectoryName(Path.GetFullPath(store.Location)) is { Length: > 0 } directory
            && !Directory.Exists(directory))
        {
            // A management command on a path whose directory does not exist is a typo far more often than a first run:
            // it would create the directories and an empty store, and report on that instead of the real one.
            await store.DisposeAsync();
            throw new ArgumentException(
                $"{DsnSetting}: the directory of {store.Location} does not exist; check the path ('apigate serve' or 'apigate migrate' creates a new store there)");
        }

        try
        {
            // Asked before InitializeAsync, which would create the schema in an empty PostgreSQL database (or a SQLite file).
            if ((existing is not null || orNone) && !await store.HoldsStoreAsync(cancellationToken))
            {
                if (orNone)
                {
                    await store.DisposeAsync();
                    // Not a store to come: a path no file can be made at, which serve would fail to open.
                    if (options.DatabaseDriver == GatewayStores.Sqlite && SqliteGatewayStore.PathProblem(options.DatabaseDsn) is { } pathProblem)
                    {
                        throw new ArgumentException($"{DsnSetting}: {pathProblem}");
                    }

                    await Error.WriteLineAsync($"no store at {store.Location} yet");
                    return null;
                }

                throw new ArgumentException(noStore);
            }

            await store.InitializeAsync(cancellationToken);
        }
        catch
        {
            await store.DisposeAsync();
            throw;
        }

        // A plan change made here records the usage.threshold / usage.limit it causes, as the serving gateway does, with
        // the share these settings resolve to (the gateway's when both read the same file and environment).
        store.EnableUsageAlerts(options.WebhookUsageThreshold);
        if (!serving)
        {
            await Error.WriteLineAsync(store.Created ? $"created a new store at {store.Location}" : $"store: {store.Location}");
            // Serving logs them itself (GatewayHost.StartAsync).
            foreach (var notice in store.MigrationNotices)
            {
                await Error.WriteLineAsync("warning: store: " + notice);
            }
        }

        return store;
    }

    /// <summary>
    /// Prints a refused operation (an API key, admin token or webhook secret given where an id belongs cut to its shown
    /// prefix) and returns the exit code for it.
    /// </summary>
    public int Fail(ManagementError error)
    {
        var shown = FlagFor(error.Field) is { } flag ? error with { Field = flag } : error;
        Error.WriteLine("error: " + Cli.Output.TableWriter.Escape(Core.Identity.ApiKeys.RedactedMessage(shown.ToString())));
        return error.Kind switch
        {
            ManagementErrorKind.NotFound => 3,
            ManagementErrorKind.Conflict => 4,
            _ => 2,
        };
    }

    /// <summary>
    /// The command's flag for a field the services name as the admin API does (<c>price_monthly</c> is <c>--price</c>,
    /// <c>health_check.timeout</c> <c>--health-timeout</c>, <c>targets.1.url</c> <c>--target</c>): as typed when given (an alias), else its name;
    /// null when the command has no such flag (the field is then named as it is).
    /// </summary>
    private string? FlagFor(string field)
    {
        if (Parse is null || field.Length == 0 || field.StartsWith('-'))
        {
            return null;
        }

        // A list entry's field (targets.1.url) is the list's flag's: the message names the entry.
        field = Core.Management.ListEntryField.ListOf(field);

        // A nested field's flag is prefixed by its group's first word, or not at all: health_check.timeout is
        // --health-timeout, health_check.healthy_threshold --healthy-threshold.
        var dot = field.LastIndexOf('.');
        var names = dot < 0 ? [field] : new[] { field, field[..field.IndexOfAny(['_', '.'])] + "_" + field[(dot + 1)..], field[(dot + 1)..] };
        var command = Parse.CommandResult.Command;
        foreach (var name in names)
        {
            var spelt = "--" + name.Replace('_', '-').Replace('.', '-');
            if (command.Options.FirstOrDefault(o => o.Name == spelt || o.Aliases.Contains(spelt)) is { } option)
            {
                return CliApp.Typed(Parse, option);
            }
        }

        return null;
    }
}
