using System.CommandLine;
using ApiGate.Cli.Output;
using ApiGate.Cli.Settings;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Usage;

namespace ApiGate.Cli.Commands;

/// <summary><c>apigate config validate|show</c>.</summary>
internal static class ConfigCommands
{
    public static Command Create(CliContext context)
    {
        var command = new Command("config", "Inspect and check the configuration");

        var show = new Command("show", "Print the resolved settings and where each comes from (secrets redacted)");
        CliApp.SetHandler(show, context, (parse, _) =>
        {
            var settings = context.LoadSettings(parse.GetValue(CliApp.ConfigOption), CliApp.StoreFlags(parse)).Settings;
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

            return Task.FromResult(0);
        });

        var validate = new Command("validate", "Check the settings and every stored route and upstream; exit 1 on problems");
        CliApp.SetHandler(validate, context, async (parse, ct) =>
        {
            var loaded = context.LoadSettings(parse.GetValue(CliApp.ConfigOption), CliApp.StoreFlags(parse));
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
        return command;
    }

    private static string Source(ResolvedSetting setting) => setting.Source.ToString().ToLowerInvariant();
}
