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
            var settings = (await context.LoadSettingsAsync(parse.GetValue(CliApp.ConfigOption), CliApp.StoreFlags(parse), ct)).Settings;
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

            return 0;
        });

        var validate = new Command("validate", "Check the settings and every stored route and upstream; exit 1 on problems");
        CliApp.SetHandler(validate, context, async (parse, ct) =>
        {
            var loaded = await context.LoadSettingsAsync(parse.GetValue(CliApp.ConfigOption), CliApp.StoreFlags(parse), ct);
            var options = loaded.Options;
            await using var store = await context.OpenStoreAsync(options, ct);
            var problems = new List<string>();
            if (UsageExport.TargetProblem(options.UsageExport) is { } export)
            {
                // What serve would refuse to start with, though the value itself is a valid setting.
                var setting = GatewaySettings.Get("usage.export");
                problems.Add($"{setting.Key} (from {GatewaySettings.Describe(setting, GatewaySettings.SourceOf(loaded.Configuration, setting))}): {export}");
            }

            problems.AddRange(await StoredConfigCheck.ValidateStoredAsync(store, ct, options.JwtIssuer));
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, new { valid = problems.Count == 0, problems });
            }
            else if (problems.Count == 0)
            {
                context.Output.WriteLine("configuration is valid");
            }
            else
            {
                foreach (var problem in problems)
                {
                    context.Error.WriteLine("problem: " + TableWriter.Escape(problem)); // it may quote a stored value
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

            var changes = new List<(GatewaySetting, string?)>();
            for (var i = 0; i < given.Length; i += 2)
            {
                var setting = StorableSetting(given[i], changes);
                if (TextFields.Check(setting.Key, given[i + 1]) is { } bad)
                {
                    throw new ArgumentException(bad.ToString()); // a line break or ESC stored would break every line that shows it
                }

                if (setting.Redact(given[i + 1]) != given[i + 1])
                {
                    throw new ArgumentException(
                        $"{setting.Key}: the value holds a password, which the store would keep in plain text; set it in the environment ({setting.EnvironmentVariable}) or the config file");
                }

                changes.Add((setting, given[i + 1]));
            }

            return await ChangeAsync(context, parse, changes, ct);
        });
        return command;
    }

    /// <summary><c>config unset KEY [KEY …]</c>: forgets stored settings (the layers beneath them, or the defaults, apply again).</summary>
    private static Command Unset(CliContext context)
    {
        var keys = new Argument<string[]>("key") { Description = "Dotted keys (server.port)", Arity = ArgumentArity.OneOrMore };
        var command = new Command("unset", "Forget settings kept in the store; gateways apply that when they start") { keys };
        CliApp.SetHandler(command, context, async (parse, ct) =>
        {
            var changes = new List<(GatewaySetting, string?)>();
            foreach (var key in parse.GetValue(keys)!)
            {
                changes.Add((StorableSetting(key, changes), null));
            }

            return await ChangeAsync(context, parse, changes, ct);
        });
        return command;
    }

    /// <summary>
    /// Checks the settings as they would resolve with <paramref name="changes"/> made to the stored ones (a null value:
    /// unset), writes them in one transaction, and says what each setting now resolves to (and which source, if any,
    /// hides a stored value).
    /// </summary>
    private static async Task<int> ChangeAsync(CliContext context, ParseResult parse, IReadOnlyList<(GatewaySetting Setting, string? Value)> changes, CancellationToken ct)
    {
        var configPath = parse.GetValue(CliApp.ConfigOption);
        var flags = CliApp.StoreFlags(parse);
        // The store is opened with the settings as they are without the stored ones: a stored value that other
        // settings refuse now (a port the environment took since) must not stop the command that changes it.
        var current = context.LoadSettingsWith(configPath, flags, []);
        await using var store = await context.OpenStoreAsync(current.Options, ct, managing: true);
        var stored = await store.ListStoredSettingsAsync(ct);
        if (changes.FirstOrDefault(c => c.Value is null && stored.All(s => s.Key != c.Setting.Key)) is { Setting: { } missing })
        {
            await context.Error.WriteLineAsync($"error: {missing.Key} is not stored (config show lists where each setting comes from); nothing was changed");
            return 3;
        }

        // Checked inside the write, against every stored setting as it will be (changes take turns), so two commands at
        // once cannot together store a pair that each alone would refuse. Refused, naming the setting and its source,
        // if the change leaves settings a start would refuse.
        IReadOnlyDictionary<string, ResolvedSetting> next = new Dictionary<string, ResolvedSetting>();
        List<ResolvedSetting> hiddenHere = [];
        await store.ChangeStoredSettingsAsync([.. changes.Select(c => KeyValuePair.Create(c.Setting.Key, c.Value))], DateTimeOffset.UtcNow, ct, after =>
        {
            next = context.LoadSettingsWith(configPath, flags, [.. after]).Settings.ToDictionary(s => s.Key);
            // A value the environment, the file or a flag hides here is read as it is by every process without them, so
            // it is checked as those would read it: else 'server.port abc' is stored and every such process refuses to start.
            hiddenHere = [.. changes.Where(c => c.Value is not null && next[c.Setting.Key].Source != SettingSource.Stored).Select(c => next[c.Setting.Key])];
            if (hiddenHere.Count > 0)
            {
                context.LoadSettingsWith(configPath, flags, [.. after], [.. hiddenHere.Select(h => KeyValuePair.Create(h.Key, after[h.Key]))]);
            }
        });
        var now = changes.Select(c => next[c.Setting.Key]).ToList();
        if (parse.GetValue(CliApp.JsonOption))
        {
            JsonOutput.Write(context.Output, now.ToDictionary(s => s.Key, s => new { value = s.Setting.Redact(s.Value), source = Source(s) }));
        }
        else
        {
            TableWriter.Write(context.Output, ["SETTING", "NOW", "SOURCE"], now.Select(s => (IReadOnlyList<string>)[s.Key, s.Setting.Redact(s.Value), Source(s)]));
        }

        foreach (var hidden in hiddenHere)
        {
            await context.Error.WriteLineAsync(
                $"note: {GatewaySettings.Describe(hidden.Setting, hidden.Source)} sets {hidden.Key} too and takes precedence over the stored value");
        }

        await context.Error.WriteLineAsync("note: running gateways apply stored settings when they restart");
        return 0;
    }

    /// <summary>
    /// The setting <paramref name="key"/> names, if the store may keep it and <paramref name="earlier"/> does not name
    /// it already; else why not, naming where to set it.
    /// </summary>
    private static GatewaySetting StorableSetting(string key, IEnumerable<(GatewaySetting Setting, string? Value)> earlier)
    {
        var setting = StorableSetting(key);
        return earlier.Any(c => c.Setting == setting) ? throw new ArgumentException($"{setting.Key} is given twice") : setting;
    }

    /// <summary>The setting <paramref name="key"/> names, if the store may keep it; else why not, naming where to set it.</summary>
    private static GatewaySetting StorableSetting(string key)
    {
        var setting = GatewaySettings.Find(key.Trim())
            ?? throw new ArgumentException($"'{key}' is not a setting (did you mean {GatewaySettings.ClosestKey(key.Trim())}? config show lists them all)");
        return setting.Storable
            ? setting
            : throw new ArgumentException(setting.Secret
                ? $"{setting.Key} is a secret, which the store would keep in plain text; set it in the environment ({setting.EnvironmentVariable}) or the config file"
                : $"{setting.Key} says where the store is and how to open it, so it cannot be kept there; set it in the environment ({setting.EnvironmentVariable}), the config file or a flag");
    }

    private static string Source(ResolvedSetting setting) => setting.Source.ToString().ToLowerInvariant();
}
