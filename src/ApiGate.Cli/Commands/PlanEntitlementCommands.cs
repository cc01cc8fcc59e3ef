using System.CommandLine;
using ApiGate.Cli.Output;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;

namespace ApiGate.Cli.Commands;

/// <summary><c>apigate plan-entitlements create|list-by-plan|update|delete</c>: a plan's value for an entitlement.</summary>
internal static class PlanEntitlementCommands
{
    public static Command Create(CliContext context)
    {
        var command = new Command("plan-entitlements", "Set entitlement values per plan");
        command.Aliases.Add("plan-entitlement");

        var plan = new Option<string?>("--plan-id", "--plan") { Description = "Plan id" };
        var entitlement = new Option<string?>("--entitlement-id", "--entitlement") { Description = "Entitlement id or name" };
        var value = new Option<string?>("--value") { Description = "The plan's value; must fit the entitlement's type (true/false, a number, or text)" };
        var enabled = new Option<bool?>("--enabled") { Description = "true (default) | false: when false the entitlement's default applies" };
        var create = new Command("create", "Give a plan a value for an entitlement") { plan, entitlement, value, enabled };
        CliApp.SetServiceHandler(create, context, async (parse, store, ct) =>
        {
            var input = new PlanEntitlementInput
            {
                Plan = parse.GetValue(plan),
                Entitlement = parse.GetValue(entitlement),
                Value = parse.GetValue(value),
                Enabled = parse.GetValue(enabled),
            };
            var result = await PlanEntitlements(store).CreateAsync(input, ct);
            if (!result.Ok)
            {
                return context.Fail(result.Error!);
            }

            return await PrintAsync(context, parse, store, result.Value!, ct);
        });

        var planReference = new Argument<string>("plan") { Description = "Plan id" };
        var listByPlan = new Command("list-by-plan", "List a plan's entitlement values") { planReference };
        CliApp.SetServiceHandler(listByPlan, context, async (parse, store, ct) =>
        {
            var result = await PlanEntitlements(store).ListAsync(parse.GetRequiredValue(planReference), ct);
            if (!result.Ok)
            {
                return context.Fail(result.Error!);
            }

            var assignments = result.Value!;
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, assignments);
                return 0;
            }

            var names = await EntitlementNamesAsync(store, ct);
            TableWriter.Write(context.Output, ["ID", "ENTITLEMENT", "VALUE", "ENABLED"],
                assignments
                    .OrderBy(a => names.GetValueOrDefault(a.EntitlementId, a.EntitlementId), StringComparer.Ordinal)
                    .Select(a => (IReadOnlyList<string>)[a.Id, names.GetValueOrDefault(a.EntitlementId, a.EntitlementId), a.Value, a.Enabled ? "yes" : "no"]));
            return 0;
        });

        var id = new Argument<string>("id") { Description = "Plan entitlement id" };
        var newValue = new Option<string?>("--value") { Description = "The plan's new value; must fit the entitlement's type" };
        var nowEnabled = new Option<bool?>("--enabled") { Description = "true | false: when false the entitlement's default applies" };
        var update = new Command("update", "Change a plan's value or enabled flag in one write (no moment with the default in between)") { id, newValue, nowEnabled };
        CliApp.SetUpdateHandler(update, context, async (parse, store, ct) =>
        {
            var result = await PlanEntitlements(store).UpdateAsync(parse.GetRequiredValue(id),
                new PlanEntitlementInput { Value = parse.GetValue(newValue), Enabled = parse.GetValue(nowEnabled) }, ct);
            return result.Ok ? await PrintAsync(context, parse, store, result.Value!, ct) : context.Fail(result.Error!);
        });

        var delete = new Command("delete", "Remove a plan's value (the entitlement's default applies again)") { id };
        CliApp.SetServiceHandler(delete, context, async (parse, store, ct) =>
        {
            var names = await EntitlementNamesAsync(store, ct);
            return CliApp.PrintDeleted(context, parse, await PlanEntitlements(store).DeleteAsync(parse.GetRequiredValue(id), ct), "plan entitlement",
                v => $"{v.Id} (plan {v.PlanId}, entitlement {names.GetValueOrDefault(v.EntitlementId, v.EntitlementId)})");
        });

        command.Subcommands.Add(create);
        command.Subcommands.Add(listByPlan);
        command.Subcommands.Add(update);
        command.Subcommands.Add(delete);
        return command;
    }

    private static PlanEntitlementService PlanEntitlements(IGatewayStore store) => new(store, TimeProvider.System);

    /// <summary>One assignment as JSON (<c>--json</c>) or as fields, with the entitlement's name.</summary>
    private static async Task<int> PrintAsync(CliContext context, ParseResult parse, IGatewayStore store, PlanEntitlement a, CancellationToken ct)
    {
        if (parse.GetValue(CliApp.JsonOption))
        {
            JsonOutput.Write(context.Output, a);
            return 0;
        }

        var names = await EntitlementNamesAsync(store, ct);
        TableWriter.WriteFields(context.Output,
        [
            ("id", a.Id),
            ("plan", a.PlanId),
            ("entitlement", $"{names.GetValueOrDefault(a.EntitlementId, a.EntitlementId)} ({a.EntitlementId})"),
            ("value", a.Value),
            ("enabled", a.Enabled ? "yes" : "no"),
        ]);
        return 0;
    }

    private static async Task<IReadOnlyDictionary<string, string>> EntitlementNamesAsync(IGatewayStore store, CancellationToken ct) =>
        (await store.ListEntitlementsAsync(ct)).ToDictionary(e => e.Id, e => e.Name);
}
