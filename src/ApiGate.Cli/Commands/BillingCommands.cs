using System.CommandLine;
using System.Globalization;
using ApiGate.Cli.Output;
using ApiGate.Core.Billing;

namespace ApiGate.Cli.Commands;

/// <summary><c>apigate billing status</c>: the overage outbox (docs/billing.md), pending and sent.</summary>
internal static class BillingCommands
{
    public static Command Create(CliContext context)
    {
        var command = new Command("billing", "Billing with Stripe (docs/billing.md)");
        var limit = new Option<int>("--limit") { Description = "Rows of each kind to list (default 20)", DefaultValueFactory = _ => 20 };
        var status = new Command("status", "Overage units waiting to be reported to Stripe and those reported") { limit };
        CliApp.SetServiceHandler(status, context, async (parse, store, ct) =>
        {
            var rows = Math.Clamp(parse.GetValue(limit), 1, 1000);
            var totals = await store.GetOverageTotalsAsync(ct);
            var pending = await store.ListOverageAsync(sent: false, rows, ct);
            var sent = await store.ListOverageAsync(sent: true, rows, ct);
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, new { totals, pending, sent });
                return 0;
            }

            TableWriter.WriteFields(context.Output,
            [
                ("pending", $"{Number(totals.PendingUnits)} unit(s) in {Number(totals.PendingRows)} row(s)"
                    + (totals.FailingRows > 0 ? $", {Number(totals.FailingRows)} failing (see LAST ERROR)" : "")),
                ("sent", $"{Number(totals.SentUnits)} unit(s) in {Number(totals.SentRows)} row(s)"),
            ]);
            context.Output.WriteLine();
            context.Output.WriteLine("pending:");
            Table(context, pending);
            context.Output.WriteLine();
            context.Output.WriteLine("sent:");
            Table(context, sent);
            return 0;
        });

        command.Subcommands.Add(status);
        return command;
    }

    private static void Table(CliContext context, IReadOnlyList<OverageReport> rows) =>
        TableWriter.Write(context.Output, ["ID", "USER", "CUSTOMER", "METER", "UNITS", "USED AT", "ATTEMPTS", "SENT AT", "LAST ERROR"],
            rows.Select(r => (IReadOnlyList<string>)
            [
                r.Id, r.UserId, r.CustomerId, r.MeterEvent, Number(r.Units), UserCommands.Time(r.UsageAt), Number(r.Attempts),
                r.SentAt is { } at ? UserCommands.Time(at) : "", r.LastError,
            ]));

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
