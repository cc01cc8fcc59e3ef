using System.CommandLine;
using ApiGate.Cli.Output;
using ApiGate.Core.Storage;
using ApiGate.Storage;
using ApiGate.Storage.Postgres;
using ApiGate.Storage.Sqlite;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sql;

namespace ApiGate.Cli.Commands;

/// <summary>
/// <c>apigate store copy --to-driver postgres --to-dsn …</c>: moves an install from the configured store (the source,
/// usually the SQLite file) into a new, empty store (usually PostgreSQL), all of it or nothing (docs/scaling.md).
/// <c>apigate store rekey</c>: re-encrypts the stored secrets with the current secret key.
/// </summary>
internal static class StoreCommands
{
    public static Command Create(CliContext context)
    {
        var command = new Command("store", "Operate on the store as a whole");
        var toDriver = new Option<string>("--to-driver") { Description = $"Driver of the target store ({GatewayStores.Drivers})", Required = true };
        var toDsn = new Option<string>("--to-dsn") { Description = "DSN of the target store: new and empty (its schema is created); a read-only one (Mode=ReadOnly) is refused", Required = true };
        var copy = new Command("copy", "Copy everything from the configured store into a new, empty store (e.g. SQLite to PostgreSQL)") { toDriver, toDsn };
        CliApp.SetHandler(copy, context, async (parse, ct) =>
        {
            var (options, _) = await context.LoadSettingsAsync(parse.GetValue(CliApp.ConfigOption), CliApp.StoreFlags(parse), ct);
            var driver = parse.GetValue(toDriver)!.Trim().ToLowerInvariant();
            if (!GatewayStores.IsKnown(driver))
            {
                throw new ArgumentException($"--to-driver: '{driver}' is not one of {GatewayStores.Drivers}");
            }

            var dsn = parse.GetValue(toDsn)!;
            if (string.IsNullOrWhiteSpace(dsn))
            {
                throw new ArgumentException("--to-dsn: is empty: name the new store (a SQLite file, or for postgres the connection string)");
            }

            // An in-memory target took every row and lost them when the command ended (or failed with "no such table"); a
            // PostgreSQL DSN that does not parse is invalid input as well, said without the password.
            // So is a SQLite path that no file can be made at (a directory, links that loop), said before anything is opened,
            // and a SQLite target opened read-only, or with Mode=ReadWrite at a file that does not exist, which SQLite refused
            // only on opening ("unable to open database file").
            var dsnProblem = driver == GatewayStores.Sqlite
                ? SqliteGatewayStore.DsnProblem(dsn) ?? ReadOnlyProblem(dsn) ?? SqliteGatewayStore.PathProblem(dsn) ?? SqliteGatewayStore.MissingFileProblem(dsn)
                : PostgresGatewayStore.DsnProblem(dsn);
            if (dsnProblem is not null)
            {
                throw new ArgumentException("--to-dsn: " + dsnProblem);
            }

            await using var source = await context.OpenStoreAsync(options, ct, existing: "to copy from");
            // Every stored secret is read before the target is touched: a wrong or missing key changes nothing there.
            await ((SqlGatewayStore)source).CheckCopiedSecretsAsync(ct);
            await using var target = await OpenTargetAsync(driver, dsn, options.SecretKey, (SqlGatewayStore)source, context.CopyLockTimeout, ct);
            var copied = await ((SqlGatewayStore)source).CopyToAsync(target, ct);
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, new { from = source.Location, to = target.Location, rows = copied.ToDictionary(c => c.Table, c => c.Rows) });
            }
            else
            {
                TableWriter.Write(context.Output, ["TABLE", "ROWS"], copied.Select(c => (IReadOnlyList<string>)[c.Table, c.Rows.ToString(System.Globalization.CultureInfo.InvariantCulture)]));
                context.Output.WriteLine($"copied {source.Location} to {target.Location}");
            }

            return 0;
        });
        command.Subcommands.Add(copy);
        command.Subcommands.Add(CreateRekey(context));
        return command;
    }

    /// <summary>
    /// <c>apigate store rekey</c>: rewrites every stored secret with <c>APIGATE_SECRET_KEY</c>, reading what was written
    /// with <c>APIGATE_SECRET_KEY_PREVIOUS</c> or in plaintext, all of it or nothing (docs/scaling.md, "Rotating the
    /// secret key"). Prints counts per kind of secret, never a secret.
    /// </summary>
    private static Command CreateRekey(CliContext context)
    {
        var rekey = new Command("rekey", "Re-encrypt every stored secret with APIGATE_SECRET_KEY (reading the previous key or plaintext), all or nothing");
        var dryRun = new Option<bool>("--dry-run")
        {
            Description = "Read and decrypt every stored secret and print what a rekey would do, without writing anything",
        };
        rekey.Options.Add(dryRun);
        CliApp.SetHandler(rekey, context, async (parse, ct) =>
        {
            var checkOnly = parse.GetValue(dryRun);
            var (options, _) = await context.LoadSettingsAsync(parse.GetValue(CliApp.ConfigOption), CliApp.StoreFlags(parse), ct);
            if (options.SecretKey.Length == 0)
            {
                throw new ArgumentException(
                    "secret_key (APIGATE_SECRET_KEY) is not set: it is the key every stored secret is re-encrypted with; " +
                    "set it to the new key, and secret_key_previous (APIGATE_SECRET_KEY_PREVIOUS) to the old one if there was one");
            }

            await using var store = await context.OpenStoreAsync(options, ct, existing: "to re-encrypt");
            var counts = await ((SqlGatewayStore)store).RekeySecretsAsync(checkOnly, ct);
            var (reencrypted, encrypted, current) = (counts.Sum(c => c.Reencrypted), counts.Sum(c => c.Encrypted), counts.Sum(c => c.Current));
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, new
                {
                    store = store.Location,
                    dryRun = checkOnly,
                    reencrypted,
                    encrypted,
                    current,
                    kinds = counts.Select(c => new { kind = c.Kind, table = c.Table, reencrypted = c.Reencrypted, encrypted = c.Encrypted, current = c.Current }),
                });
            }
            else
            {
                TableWriter.Write(context.Output, ["KIND", "TABLE", checkOnly ? "TO RE-ENCRYPT" : "RE-ENCRYPTED", checkOnly ? "TO ENCRYPT" : "ENCRYPTED", "CURRENT"],
                    counts.Select(c => (IReadOnlyList<string>)[c.Kind, c.Table, Count(c.Reencrypted), Count(c.Encrypted), Count(c.Current)]));
                context.Output.WriteLine(checkOnly
                    ? $"dry run, nothing written: {reencrypted} to re-encrypt (from the previous key), {encrypted} to encrypt (are plaintext), {current} already under the current key; every stored secret was read"
                    : $"{reencrypted} re-encrypted (from the previous key), {encrypted} encrypted (were plaintext), {current} already under the current key");
            }

            return 0;
        });
        return rekey;
    }

    private static string? ReadOnlyProblem(string dsn) =>
        SqliteGatewayStore.OpensReadOnly(dsn) ? "sets Mode=ReadOnly, but a copy writes its rows into the target: remove Mode=ReadOnly" : null;

    private static string Count(int count) => count.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>
    /// The target store, opened once it is known not to be <paramref name="source"/> (a new one gets its schema in the
    /// copy, <see cref="SqlGatewayStore.SchemaInCopy"/>); its failures name <c>--to-dsn</c>, not the source's setting.
    /// </summary>
    private static async Task<SqlGatewayStore> OpenTargetAsync(
        string driver, string dsn, string secretKey, SqlGatewayStore source, TimeSpan? lockTimeout, CancellationToken ct)
    {
        // Outside the block below: a failure reading the source is the source's, not the target's.
        var sourceIdentity = await source.IdentifyAsync(ct);
        SqlGatewayStore? target = null;
        try
        {
            target = (SqlGatewayStore)GatewayStores.Create(driver, dsn, new SecretProtector(secretKey));
            // Before the target is opened: SQLite opens a second name of the source file (a hard link) as another
            // database. The same database and schema for PostgreSQL, not only the same host and database (Location).
            if (string.Equals(await target.IdentifyAsync(ct), sourceIdentity, StringComparison.Ordinal))
            {
                await target.DisposeAsync();
                throw new ArgumentException($"--to-dsn: the target is the configured store itself ({target.Location})");
            }

            // A target an older apigate created holds a store: refused as it is, not migrated first.
            target.MigrateExisting = false;
            // A new target's schema comes with the rows, or not at all (and a new SQLite file is deleted).
            target.SchemaInCopy = true;
            if (target is PostgresGatewayStore postgres && lockTimeout is { } timeout)
            {
                postgres.CopyLockTimeout = timeout;
            }

            await target.InitializeAsync(ct);
            return target;
        }
        catch (StoreUnavailableException ex)
        {
            if (target is not null)
            {
                await target.DisposeAsync();
            }

            if (ex is StoreSchemaMismatchException)
            {
                // Another apigate's store is not a new, empty one either: refused as one that holds data (exit 4), unchanged.
                throw new StoreConflictException("--to-dsn", ex.Message);
            }

            // Both engines name their setting the same way (SqliteGatewayStore.Setting); a message naming none is about the
            // target too, and one that names --to-dsn already (a copy's lock wait given up) is kept as it is.
            var message = ex.Message.Contains(SqliteGatewayStore.Setting, StringComparison.Ordinal)
                ? ex.Message.Replace(SqliteGatewayStore.Setting, "--to-dsn", StringComparison.Ordinal)
                : ex.Message.StartsWith("--to-dsn: ", StringComparison.Ordinal) ? ex.Message : "--to-dsn: " + ex.Message;
            throw ex is StoreBusyException ? new StoreBusyException(message, ex) : new StoreUnavailableException(message, ex);
        }
    }
}
