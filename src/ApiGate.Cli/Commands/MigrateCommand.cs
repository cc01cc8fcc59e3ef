using System.CommandLine;
using ApiGate.Cli.Output;
using ApiGate.Storage.Sql;

namespace ApiGate.Cli.Commands;

/// <summary>
/// <c>apigate migrate</c>: brings the configured store's schema (SQLite or PostgreSQL) to this build's version and
/// says what it applied. Safe to run while gateways run and from several places at once (SQLite's write lock,
/// PostgreSQL's advisory lock); <c>serve</c> does the same on start.
/// </summary>
internal static class MigrateCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("migrate", "Apply pending schema migrations to the configured store (sqlite or postgres)");
        CliApp.SetHandler(command, context, async (parse, ct) =>
        {
            var (options, _) = await context.LoadSettingsAsync(parse.GetValue(CliApp.ConfigOption), CliApp.StoreFlags(parse), ct);
            await using var store = await context.OpenStoreAsync(options, ct, migrate: true);
            var sql = (SqlGatewayStore)store;
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, new
                {
                    driver = options.DatabaseDriver,
                    store = sql.Location,
                    schema_version = sql.SchemaVersion,
                    applied = sql.MigrationsApplied.Select(m => new { version = m.Version, name = m.Name }),
                });
                return 0;
            }

            foreach (var (version, name) in sql.MigrationsApplied)
            {
                context.Output.WriteLine($"applied migration {version}: {name}");
            }

            context.Output.WriteLine(sql.MigrationsApplied.Count == 0
                ? $"schema is up to date at version {sql.SchemaVersion}"
                : $"schema is now at version {sql.SchemaVersion}");
            return 0;
        });
        return command;
    }
}
