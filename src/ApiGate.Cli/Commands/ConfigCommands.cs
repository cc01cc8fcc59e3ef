using System.CommandLine;
using ApiGate.Cli.Output;
using ApiGate.Cli.Settings;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Usage;

namespace ApiGate.Cli.Commands;

/// <summary><c>apigate config validate|show|set|unset</c>.</summary>
internal static class ConfigCommands
{
    public static Command Create(CliContext context)
    {
        var command = new Command("config", "Inspect and check the configuration");

        var show = new Command("show", "Print the resolved settings and where each comes from (secrets redacted)");
        CliApp.SetHandler(show, context, async (parse, ct) =>
        {
            // A store that cannot be read is what one runs config show to look into: the settings are shown without the
            // stored ones, with a warning first, and the exit code says they may be incomplete.
            Exception? unreadable = null;
            var settings = (await context.LoadSettingsAsync(parse.GetValue(CliApp.ConfigOption), CliApp.StoreFlags(parse), ct, unreadableStore: ex => unreadable = ex)).Settings;
            if (unreadable is not null)
            {
                await context.Error.WriteLineAsync(
                    "warning: " + TableWriter.Escape(unreadable.Message) + "; the stored settings could not be read, so these are shown without them");
            }

            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, settings.ToDictionary(s => s.Key, s => new
                {
                    value = s.Setting.Redact(s.Value),
                    source = Source(s),
                    env = s.Setting.EnvironmentVariable,
                    note = s.Setting.Note,
                }));
            }
            else
            {
                TableWriter.Write(context.Output, ["SETTING", "VALUE", "SOURCE", "ENV", "NOTE"],
                    settings.Select(s => (IReadOnlyList<string>)[s.Key, s.Setting.Redact(s.Value), Source(s), s.Setting.EnvironmentVariable, s.Setting.Note ?? ""]));
            }

            return unreadable is null ? 0 : 1;
        });

        var validate = new Command("validate", "Check the settings and every stored route and upstream; exit 2 on an invalid setting, 1 on other problems (warnings alone exit 0)");
        CliApp.SetHandler(validate, context, async (parse, ct) =>
        {
            // A store whose stored settings cannot be read (a file that is no database, a server down) is a problem
            // like one that cannot be opened below: the settings are checked without the stored ones.
            Exception? unreadable = null;
            var loaded = await context.LoadSettingsAsync(parse.GetValue(CliApp.ConfigOption), CliApp.StoreFlags(parse), ct, unreadableStore: ex => unreadable = ex);
            var options = loaded.Options;
            var problems = new List<string>();
            IReadOnlyList<string> warnings = [];
            IGatewayStore? store = null;
            if (unreadable is not null)
            {
                problems.Add("store: " + unreadable.Message);
            }
            else
            {
                try
                {
                    // Only read: a store that is not there yet is not created (nor one an older apigate made migrated).
                    store = await context.OpenStoreIfAnyAsync(options, ct);
                }
                catch (StoreUnavailableException ex)
                {
                    // A store of another schema version, or one that cannot be reached: a problem among the others
                    // (listed, and in --json), not the end of the check.
                    problems.Add("store: " + ex.Message);
                }
            }

            await using var opened = store;
            if (UsageExport.TargetProblem(options.UsageExport) is { } export)
            {
                // What serve would refuse to start with, though the value itself is a valid setting.
                var setting = GatewaySettings.Get("usage.export");
                problems.Add($"{setting.Key} (from {GatewaySettings.Describe(setting, GatewaySettings.SourceOf(loaded.Configuration, setting))}): {export}");
            }

            if (store is not null)
            {
                try
                {
                    var found = await StoredConfigCheck.ValidateStoredAsync(store, ct, options.JwtIssuer);
                    problems.AddRange(found.Problems);
                    warnings = found.Warnings;
                }
                catch (InvalidDataException ex)
                {
                    // A row no build writes (a hand edit, a damaged file): the gateway does not load the config either.
                    // A problem listed with the others, so --json still answers with its document.
                    problems.Add("store: " + ex.Message);
                }
            }

            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, new { valid = problems.Count == 0, problems, warnings });
            }
            else
            {
                // Either may quote a stored value.
                foreach (var line in warnings.Select(w => "warning: " + w).Concat(problems.Select(p => "problem: " + p)))
                {
                    context.Error.WriteLine(TableWriter.Escape(line));
                }

                if (problems.Count == 0)
                {
                    context.Output.WriteLine("configuration is valid");
                }
            }

            return problems.Count == 0 ? 0 : 1;
        });

        command.Subcommands.Add(show);
        command.Subcommands.Add(validate);
        command.Subcommands.Add(Set(context));
        command.Subcommands.Add(Unset(context));
        return command;
    }

    /// <summary>
    /// <c>config set KEY VALUE [KEY VALUE …]</c>: keeps settings in the store, for every process on it to read at its
    /// start. The values are checked with all the others as a start would check them (settings that go together, such
    /// as a certificate and its key, are set in one command); nothing is written when one is refused.
    /// </summary>
    private static Command Set(CliContext context)
    {
        var pairs = new Argument<string[]>("key-value") { Description = "Dotted key then value, as config show lists them (server.port 8081)", Arity = ArgumentArity.OneOrMore };
        var command = new Command("set", "Keep settings in the store (beneath flags, environment and config file); gateways apply them when they start") { pairs };
        CliApp.SetHandler(command, context, async (parse, ct) =>
        {
            var given = parse.GetValue(pairs)!;
            if (given.Length % 2 != 0)
            {
                throw new ArgumentException($"'{given[^1]}' has no value: give each setting as KEY VALUE (config set server.port 8081)");
            }

            return await ChangeAsync(context, parse, Enumerable.Range(0, given.Length / 2).Select(i => (given[2 * i], (string?)given[2 * i + 1])), ct);
        });
        return command;
    }

    /// <summary><c>config unset KEY [KEY …]</c>: forgets stored settings (the layers beneath them, or the defaults, apply again).</summary>
    private static Command Unset(CliContext context)
    {
        var keys = new Argument<string[]>("key") { Description = "Dotted keys (server.port)", Arity = ArgumentArity.OneOrMore };
        var command = new Command("unset", "Forget settings kept in the store; gateways apply that when they start") { keys };
        CliApp.SetHandler(command, context, async (parse, ct) =>
            await ChangeAsync(context, parse, parse.GetValue(keys)!.Select(k => (k, (string?)null)), ct));
        return command;
    }

    /// <summary>
    /// Makes the change with <see cref="StoredSettingsEditor"/> (the rules the admin API and the console follow too),
    /// checked against the settings as they resolve where the command runs, and says what each setting now resolves
    /// to (and which source, if any, hides a stored value).
    /// </summary>
    private static async Task<int> ChangeAsync(CliContext context, ParseResult parse, IEnumerable<(string Key, string? Value)> given, CancellationToken ct)
    {
        var changes = StoredSettingsEditor.Parse(given);
        if (!changes.Ok)
        {
            return context.Fail(changes.Error!);
        }

        // The store is opened with the settings as they are without the stored ones: a stored value that other
        // settings refuse now (a port the environment took since) must not stop the command that changes it.
        var current = context.LoadSettingsWith(parse.GetValue(CliApp.ConfigOption), CliApp.StoreFlags(parse), []);
        await using var store = await context.OpenStoreAsync(current.Options, ct, managing: true);
        var result = await new StoredSettingsEditor(store, current.Configuration, ApiGate.Gateway.Hosting.GatewayOptionsSetup.Resolve, TimeProvider.System).ChangeAsync(changes.Value!, ct);
        if (!result.Ok)
        {
            return context.Fail(result.Error!);
        }

        var now = result.Value!.Settings;
        if (parse.GetValue(CliApp.JsonOption))
        {
            JsonOutput.Write(context.Output, now.ToDictionary(s => s.Key, s => new { value = s.Value, source = s.Source }));
        }
        else
        {
            TableWriter.Write(context.Output, ["SETTING", "NOW", "SOURCE"], now.Select(s => (IReadOnlyList<string>)[s.Key, s.Value, s.Source]));
        }

        foreach (var note in result.Value.Notes)
        {
            await context.Error.WriteLineAsync("note: " + note);
        }

        return 0;
    }

    private static string Source(ResolvedSetting setting) => setting.Source.ToString().ToLowerInvariant();
}
