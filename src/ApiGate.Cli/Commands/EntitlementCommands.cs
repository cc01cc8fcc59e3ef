using System.CommandLine;
using ApiGate.Cli.Output;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;

namespace ApiGate.Cli.Commands;

/// <summary><c>apigate entitlements create|list|get|update|delete</c>.</summary>
internal static class EntitlementCommands
{
    public static Command Create(CliContext context)
    {
        var command = new Command("entitlements", "Manage entitlements (feature flags plans can grant)");
        command.Aliases.Add("entitlement");

        var create = new Command("create", "Create an entitlement");
        var createFields = new Fields(create);
        CliApp.SetServiceHandler(create, context, async (parse, store, ct) =>
        {
            var changes = createFields.Read(parse).ToChanges();
            if (!changes.Ok)
            {
                return context.Fail(changes.Error!);
            }

            var result = await Entitlements(store).CreateAsync(changes.Value!, ct);
            return Print(context, parse, result);
        });

        var list = new Command("list", "List entitlements");
        CliApp.SetServiceHandler(list, context, async (parse, store, ct) =>
        {
            var entitlements = await Entitlements(store).ListAsync(ct);
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, entitlements);
            }
            else
            {
                TableWriter.Write(context.Output, ["ID", "NAME", "TYPE", "DEFAULT", "HEADER", "CATEGORY", "ENABLED"],
                    entitlements.Select(e => (IReadOnlyList<string>)
                    [
                        e.Id, e.Name, WireNames.Of(e.ValueType), e.DefaultValue, EntitlementResolver.HeaderNameOf(e), e.Category, e.Enabled ? "yes" : "no",
                    ]));
            }

            return 0;
        });

        var reference = new Argument<string>("entitlement") { Description = "Entitlement id or name" };
        var get = new Command("get", "Show one entitlement") { reference };
        CliApp.SetServiceHandler(get, context, async (parse, store, ct) =>
        {
            return Print(context, parse, await Entitlements(store).GetAsync(parse.GetRequiredValue(reference), ct));
        });

        var update = new Command("update", "Change an entitlement (only the flags given)") { reference };
        var updateFields = new Fields(update);
        CliApp.SetUpdateHandler(update, context, async (parse, store, ct) =>
        {
            var changes = updateFields.Read(parse).ToChanges();
            if (!changes.Ok)
            {
                return context.Fail(changes.Error!);
            }

            var result = await Entitlements(store).UpdateAsync(parse.GetRequiredValue(reference), changes.Value!, ct);
            return Print(context, parse, result);
        });

        var delete = new Command("delete", "Delete an entitlement and every plan's value for it") { reference };
        CliApp.SetServiceHandler(delete, context, async (parse, store, ct) =>
        {
            return CliApp.PrintDeleted(context, parse, await Entitlements(store).DeleteAsync(parse.GetRequiredValue(reference), ct), "entitlement", v => $"{v.Name} ({v.Id})");
        });

        command.Subcommands.Add(create);
        command.Subcommands.Add(list);
        command.Subcommands.Add(get);
        command.Subcommands.Add(update);
        command.Subcommands.Add(delete);
        return command;
    }

    private static EntitlementService Entitlements(IGatewayStore store) => new(store, TimeProvider.System);

    private static int Print(CliContext context, ParseResult parse, ManagementResult<EntitlementDefinition> result) =>
        CliApp.PrintResult(context, parse, result, e =>
        [
                ("id", e.Id),
                ("name", e.Name),
                ("display_name", e.DisplayName),
                ("description", e.Description),
                ("category", e.Category),
                ("value_type", WireNames.Of(e.ValueType)),
                ("default_value", e.DefaultValue),
                ("header", EntitlementResolver.HeaderNameOf(e) + (e.HeaderName.Length == 0 ? " (derived)" : "")),
                ("enabled", e.Enabled ? "yes" : "no"),
        ]);

    /// <summary>The flags shared by create and update.</summary>
    private sealed class Fields
    {
        private readonly Option<string?> _name = new("--name") { Description = "Unique name: lower-case letters, digits and '_' (e.g. max_api_keys)" };
        private readonly Option<string?> _displayName = new("--display-name") { Description = "Human-readable name" };
        private readonly Option<string?> _description = new("--description") { Description = "Free text" };
        private readonly Option<string?> _category = new("--category") { Description = "Grouping label" };
        private readonly Option<string?> _valueType = new("--value-type", "--type") { Description = "boolean (default) | number | string" };
        private readonly Option<string?> _defaultValue = new("--default-value") { Description = "Value for plans without their own (default: false, 0 or empty)" };
        private readonly Option<string?> _headerName = new("--header-name") { Description = "Header to send instead of X-Entitlement-<Name> (empty = derived)" };
        private readonly Option<bool?> _enabled = new("--enabled") { Description = "true | false" };

        public Fields(Command command)
        {
            foreach (var option in new Option[] { _name, _displayName, _description, _category, _valueType, _defaultValue, _headerName, _enabled })
            {
                command.Options.Add(option);
            }
        }

        public EntitlementInput Read(ParseResult parse) => new()
        {
            Name = parse.GetValue(_name),
            DisplayName = parse.GetValue(_displayName),
            Description = parse.GetValue(_description),
            Category = parse.GetValue(_category),
            ValueType = parse.GetValue(_valueType),
            DefaultValue = parse.GetValue(_defaultValue),
            HeaderName = parse.GetValue(_headerName),
            Enabled = parse.GetValue(_enabled),
        };
    }
}
