using System.CommandLine;
using System.Globalization;
using ApiGate.Cli.Output;
using ApiGate.Core.Billing;
using ApiGate.Core.Management;

namespace ApiGate.Cli.Commands;

/// <summary>
/// <c>apigate billing status</c>: the overage outbox (docs/billing.md), pending and sent; <c>apigate billing resolve</c>:
/// an operator's decision about a row held past the provider's de-duplication window.
/// </summary>
internal static class BillingCommands
{
    /// <summary>The most rows of each kind <c>billing status --limit</c> lists.</summary>
    private const int MaxLimit = 1000;

    public static Command Create(CliContext context)
    {
        var command = new Command("billing", "Billing with Stripe (docs/billing.md)");
        var limit = new Option<int>("--limit") { Description = $"Rows of each kind to list, 1 to {MaxLimit}", DefaultValueFactory = _ => 20 };
        var status = new Command("status", "Overage units waiting to be reported to Stripe and those reported") { limit };
        CliApp.SetServiceHandler(status, context, async (parse, store, ct) =>
        {
            var rows = parse.GetValue(limit);
            if (CliApp.LimitOutOfRange(rows, MaxLimit) is { } badLimit)
            {
                return context.Fail(badLimit);
            }

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
                    + (totals.FailingRows > 0 ? $", {Number(totals.FailingRows)} failing (see LAST ERROR)" : "")
                    + (totals.HeldRows > 0 ? $", {Number(totals.HeldRows)} held (see HELD; decide each with 'apigate billing resolve')" : "")),
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
        command.Subcommands.Add(Resolve(context));
        return command;
    }

    private static Command Resolve(CliContext context)
    {
        var id = new Argument<string>("id") { Description = "The held outbox row's id (apigate_overage_…)" };
        var sent = new Option<bool>("--sent") { Description = "Stripe has the units (checked on the customer's meter): mark the row sent" };
        var resend = new Option<bool>("--resend") { Description = "Stripe does not have them: send the row again, with the same id" };
        var resolve = new Command("resolve", "Decide an overage row held because its first attempt is older than Stripe's de-duplication window") { id, sent, resend };
        CliApp.SetServiceHandler(resolve, context, async (parse, store, ct) =>
        {
            var (isSent, isResend) = (parse.GetValue(sent), parse.GetValue(resend));
            if (isSent == isResend)
            {
                return context.Fail(new ManagementError(ManagementErrorKind.Validation, "", "give exactly one of --sent or --resend"));
            }

            var rowId = parse.GetValue(id)!;
            var resolution = isSent ? OverageResolution.Sent : OverageResolution.Resend;
            if (!await store.ResolveHeldOverageAsync(rowId, resolution, TimeProvider.System.GetUtcNow(), ct))
            {
                // Named in the sentence, as every other command's unknown id is ("no key with id '…'"): the field is for flags.
                return context.Fail(new ManagementError(ManagementErrorKind.NotFound, "", $"no held overage row with id '{rowId}' (see 'apigate billing status')"));
            }

            context.Output.WriteLine(isSent ? $"marked {rowId} sent; it will not be reported again" : $"released {rowId}; it will be reported again with the same id");
            return 0;
        });
        return resolve;
    }

    private static void Table(CliContext context, IReadOnlyList<OverageReport> rows) =>
        TableWriter.Write(context.Output, ["ID", "USER", "CUSTOMER", "METER", "UNITS", "USED AT", "ATTEMPTS", "SENT AT", "HELD", "LAST ERROR"],
            rows.Select(r => (IReadOnlyList<string>)
            [
                r.Id, r.UserId, r.CustomerId, r.MeterEvent, Number(r.Units), UserCommands.Time(r.UsageAt), Number(r.Attempts),
                r.SentAt is { } at ? UserCommands.Time(at) : "", r.HeldAt is { } held ? UserCommands.Time(held) : "", r.LastError,
            ]));

    private static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
