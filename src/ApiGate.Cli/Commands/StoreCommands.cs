using System.CommandLine;
using ApiGate.Cli.Output;
using ApiGate.Core.Storage;
using ApiGate.Storage;
using ApiGate.Storage.Sqlite;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sql;

namespace ApiGate.Cli.Commands;

/// <summary>
/// <c>apigate store copy --to-driver postgres --to-dsn …</c>: moves an install from the configured store (the source,
/// usually the SQLite file) into a new, empty store (usually PostgreSQL), all of it or nothing (docs/scaling.md).
/// </summary>
internal static class StoreCommands
{
    public static Command Create(CliContext context)
    {
        var command = new Command("store", "Operate on the store as a whole");
        var toDriver = new Option<string>("--to-driver") { Description = $"Driver of the target store ({GatewayStores.Drivers})", Required = true };
        var toDsn = new Option<string>("--to-dsn") { Description = "DSN of the target store: new and empty (its schema is created)", Required = true };
        var copy = new Command("copy", "Copy everything from the configured store into a new, empty store (e.g. SQLite to PostgreSQL)") { toDriver, toDsn };
        CliApp.SetHandler(copy, context, async (parse, ct) =>
        {
            var (options, _) = context.LoadSettings(parse.GetValue(CliApp.ConfigOption), CliApp.StoreFlags(parse));
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

            if (driver == GatewayStores.Sqlite && SqliteGatewayStore.DsnProblem(dsn) is { } dsnProblem)
            {
                // An in-memory target took every row and lost them when the command ended (or failed with "no such table").
                throw new ArgumentException("--to-dsn: " + dsnProblem);
            }

            await using var source = await context.OpenStoreAsync(options, ct, existing: true);
            // The same secret key: upstream credentials are copied encrypted, as stored.
            await using var target = await OpenTargetAsync(driver, dsn, options.SecretKey, ct);
            if (string.Equals(target.Location, source.Location, StringComparison.Ordinal))
            {
                throw new ArgumentException($"--to-dsn: the target is the configured store itself ({target.Location})");
            }

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
        return command;
    }

    /// <summary>The target store, created and migrated; its failures name <c>--to-dsn</c>, not the source's setting.</summary>
    private static async Task<SqlGatewayStore> OpenTargetAsync(string driver, string dsn, string secretKey, CancellationToken ct)
    {
        SqlGatewayStore? target = null;
        try
        {
            target = (SqlGatewayStore)GatewayStores.Create(driver, dsn, new SecretProtector(secretKey));
            await target.InitializeAsync(ct);
            return target;
        }
        catch (StoreUnavailableException ex)
        {
            if (target is not null)
            {
                await target.DisposeAsync();
            }

            // Both engines name their setting the same way (SqliteGatewayStore.Setting).
            var message = ex.Message.Replace(SqliteGatewayStore.Setting, "--to-dsn", StringComparison.Ordinal);
            throw ex is StoreBusyException ? new StoreBusyException(message, ex) : new StoreUnavailableException(message, ex);
        }
    }
}
