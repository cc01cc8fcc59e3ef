using System.CommandLine;
using System.Globalization;
using ApiGate.Cli.Output;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;

namespace ApiGate.Cli.Commands;

/// <summary><c>apigate plans create|list|get|update|enable|disable|delete</c>.</summary>
internal static class PlanCommands
{
    public static Command Create(CliContext context)
    {
        var command = new Command("plans", "Manage plans (rate limit, monthly quota, price)");
        command.Aliases.Add("plan");

        var create = new Command("create", "Create a plan");
        var id = new Option<string?>("--id") { Description = "Plan id, e.g. pro (default: derived from the name)" };
        create.Options.Add(id);
        var createFields = new Fields(create);
        CliApp.SetServiceHandler(create, context, async (parse, store, ct) =>
        {
            var result = await Plans(store).CreateAsync(createFields.Read(parse) with { Id = parse.GetValue(id) }, ct);
            return Print(context, parse, result);
        });

        var list = new Command("list", "List plans");
        CliApp.SetServiceHandler(list, context, async (parse, store, ct) =>
        {
            var plans = await Plans(store).ListAsync(ct);
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, plans);
            }
            else
            {
                TableWriter.Write(context.Output, ["ID", "NAME", "RATE/MIN", "REQUESTS/MONTH", "PRICE/MONTH", "OVERAGE", "DEFAULT", "ENABLED", "VISIBLE"],
                    plans.Select(p => (IReadOnlyList<string>)
                    [
                        p.Id, p.Name, Unlimited(p.RateLimitPerMinute), Unlimited(p.RequestsPerMonth), Money(p.PriceMonthly), Overage(p),
                        Yes(p.IsDefault), Yes(p.Enabled), Yes(p.Visible),
                    ]));
            }

            return 0;
        });

        var reference = new Argument<string>("plan") { Description = "Plan id" };
        var get = new Command("get", "Show one plan") { reference };
        CliApp.SetServiceHandler(get, context, async (parse, store, ct) =>
        {
            return Print(context, parse, await Plans(store).GetAsync(parse.GetRequiredValue(reference), ct));
        });

        var update = new Command("update", "Change a plan (only the flags given)") { reference };
        var updateFields = new Fields(update);
        CliApp.SetUpdateHandler(update, context, async (parse, store, ct) =>
        {
            var result = await Plans(store).UpdateAsync(parse.GetRequiredValue(reference), updateFields.Read(parse), ct);
            return Print(context, parse, result);
        });

        var delete = new Command("delete", "Delete a plan no user is on") { reference };
        CliApp.SetServiceHandler(delete, context, async (parse, store, ct) =>
        {
            return CliApp.PrintDeleted(context, parse, await Plans(store).DeleteAsync(parse.GetRequiredValue(reference), ct), "plan", v => $"{v.Id} ({v.Name})");
        });

        command.Subcommands.Add(create);
        command.Subcommands.Add(list);
        command.Subcommands.Add(get);
        command.Subcommands.Add(update);
        command.Subcommands.Add(Toggle(context, "enable", true));
        command.Subcommands.Add(Toggle(context, "disable", false));
        command.Subcommands.Add(delete);
        return command;
    }

    private static PlanService Plans(Core.Storage.IGatewayStore store) => new(store, TimeProvider.System);

    private static Command Toggle(CliContext context, string verb, bool enabled)
    {
        var reference = new Argument<string>("plan") { Description = "Plan id" };
        var command = new Command(verb, enabled ? "Enable a plan" : "Disable a plan") { reference };
        CliApp.SetServiceHandler(command, context, async (parse, store, ct) =>
        {
            var result = await Plans(store).UpdateAsync(parse.GetRequiredValue(reference), new PlanInput { Enabled = enabled }, ct);
            return Print(context, parse, result);
        });
        return command;
    }

    private static int Print(CliContext context, ParseResult parse, ManagementResult<PlanDefinition> result) =>
        CliApp.PrintResult(context, parse, result, p =>
        [
                ("id", p.Id),
                ("name", p.Name),
                ("description", p.Description),
                ("rate_limit_per_minute", Unlimited(p.RateLimitPerMinute)),
                ("requests_per_month", Unlimited(p.RequestsPerMonth)),
                ("price_monthly", Money(p.PriceMonthly)),
                ("overage_price", Overage(p)),
                ("is_default", Yes(p.IsDefault)),
                ("enabled", Yes(p.Enabled)),
                ("visible", Yes(p.Visible)),
                ("stripe_price_id", p.StripePriceId),
                ("stripe_overage_price_id", p.StripeOveragePriceId),
                ("stripe_meter_event", p.StripeMeterEvent),
        ]);

    private static string Unlimited(long value) => value == 0 ? "unlimited" : value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The amount as stored and given (cents), with the unit, and in currency units: 2900 → <c>2900 cents (29.00)</c>.</summary>
    private static string Money(long cents) =>
        string.Create(CultureInfo.InvariantCulture, $"{cents} {(cents == 1 ? "cent" : "cents")} ({cents / 100m:0.00})");

    private static string Overage(PlanDefinition p) => p.OveragePrice == 0 ? "none" : Money(p.OveragePrice) + " per unit";

    private static string Yes(bool value) => value ? "yes" : "no";

    /// <summary>The flags shared by create and update.</summary>
    private sealed class Fields
    {
        private readonly Option<string?> _name = new("--name") { Description = "Display name, e.g. Pro" };
        private readonly Option<string?> _description = new("--description") { Description = "Free text" };
        private readonly Option<int?> _rateLimit = new("--rate-limit", "--rate-limit-per-minute") { Description = "Requests per minute per API key (0 = unlimited)" };
        private readonly Option<long?> _requests = new("--requests", "--requests-per-month") { Description = "Metered units per user per month (0 or -1 = unlimited)" };
        private readonly Option<long?> _price = new("--price", "--price-monthly") { Description = "Monthly price in cents, e.g. 2900 = 29.00 (0 = free)" };
        private readonly Option<long?> _overage = new("--overage", "--overage-price") { Description = "Overage price in cents per unit past the quota, e.g. 1 = 0.01 (0 = refuse with 402 instead)" };
        private readonly Option<bool?> _default = new("--default", "--is-default") { Description = "The plan new users get; clears the flag on the others (--default=false to unset)" };
        private readonly Option<bool?> _enabled = new("--enabled") { Description = "true | false" };
        private readonly Option<bool?> _visible = new("--visible") { Description = "true | false: offered on the customer portal's plan page" };

        private readonly Option<string?> _stripePrice = new("--stripe-price-id") { Description = "Stripe price of the subscription, price_… (empty to clear); see docs/billing.md" };
        private readonly Option<string?> _stripeOveragePrice = new("--stripe-overage-price-id") { Description = "Stripe metered price for overage, price_… (empty to clear); a plan priced 0 a month is sold with it alone" };
        private readonly Option<string?> _stripeMeter = new("--stripe-meter-event") { Description = "Event name of the Stripe meter overage units are reported to (empty to clear)" };

        public Fields(Command command)
        {
            foreach (var option in new Option[] { _name, _description, _rateLimit, _requests, _price, _overage, _default, _enabled, _visible, _stripePrice, _stripeOveragePrice, _stripeMeter })
            {
                command.Options.Add(option);
            }
        }

        public PlanInput Read(ParseResult parse) => new()
        {
            Name = parse.GetValue(_name),
            Description = parse.GetValue(_description),
            RateLimitPerMinute = parse.GetValue(_rateLimit),
            RequestsPerMonth = parse.GetValue(_requests),
            PriceMonthly = parse.GetValue(_price),
            OveragePrice = parse.GetValue(_overage),
            IsDefault = parse.GetValue(_default),
            Enabled = parse.GetValue(_enabled),
            Visible = parse.GetValue(_visible),
            StripePriceId = parse.GetValue(_stripePrice),
            StripeOveragePriceId = parse.GetValue(_stripeOveragePrice),
            StripeMeterEvent = parse.GetValue(_stripeMeter),
        };
    }
}
