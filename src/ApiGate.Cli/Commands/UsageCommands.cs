using System.CommandLine;
using System.Globalization;
using ApiGate.Cli.Output;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;

namespace ApiGate.Cli.Commands;

/// <summary>
/// <c>apigate usage summary|history|recent --user &lt;id|email&gt; | --email &lt;e&gt;</c>: what a user has used, from the
/// recorded usage events (SPEC §8), beside their plan's quota and the quota counter the gateway enforces.
/// </summary>
internal static class UsageCommands
{
    private const int DefaultMonths = UsageService.DefaultMonths;
    private const int MaxMonths = UsageService.MaxMonths;
    private const int DefaultLimit = UsageService.DefaultLimit;
    private const int MaxLimit = UsageService.MaxLimit;

    public static Command Create(CliContext context)
    {
        var command = new Command("usage", "Show a user's recorded usage");

        var summaryUser = new UserOptions();
        var summary = summaryUser.AddTo(new Command("summary", "This calendar month (UTC): totals, the plan's quota and the quota counter"));
        CliApp.SetServiceHandler(summary, context, async (parse, store, ct) =>
        {
            var user = await summaryUser.ResolveAsync(parse, store, ct);
            if (!user.Ok)
            {
                return context.Fail(user.Error!);
            }

            var u = user.Value!;
            var report = await new UsageService(store, TimeProvider.System).SummaryAsync(u, ct);
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, report);
                return 0;
            }

            var plan = u.User is { } current ? await store.FindPlanAsync(current.PlanId, ct) : null;
            var (limit, used, remaining) = (report.QuotaLimit, report.QuotaUsed, report.QuotaRemaining);
            TableWriter.WriteFields(context.Output,
            [
                ("user", u.User is { } shown ? $"{shown.Email} ({shown.Id})" : $"{u.UserId} (deleted)"),
                ("plan", u.Deleted ? "none (the user was deleted)" : plan is null ? report.PlanId : $"{plan.Id} ({plan.Name})"),
                ("period", $"{Month(report.PeriodStart)} ({UserCommands.Time(report.PeriodStart)} to {UserCommands.Time(report.PeriodEnd)})"),
                ("requests", Number(report.Requests)),
                ("units", Number(report.Units)),
                ("request_bytes", Number(report.RequestBytes)),
                ("response_bytes", Number(report.ResponseBytes)),
                ("errors", Number(report.Errors) + " (status 5xx)"),
                ("quota_limit", u.Deleted ? "none (the user was deleted)" : limit <= 0 ? "unlimited" : Number(limit) + " units/month"),
                ("quota_used", Number(used) + (limit <= 0 ? "" : $" ({Percent(used, limit)} of the quota)")),
                ("quota_remaining", u.Deleted ? "0" : remaining < 0 ? "unlimited" : Number(remaining)),
                ("quota_overage", Number(report.QuotaOverage)),
            ]);
            return 0;
        });

        var historyUser = new UserOptions();
        var months = new Option<int?>("--months") { Description = $"How many calendar months, this one included (default {DefaultMonths}, at most {MaxMonths})" };
        var history = historyUser.AddTo(new Command("history", "Totals per calendar month (UTC), newest first") { months });
        CliApp.SetServiceHandler(history, context, async (parse, store, ct) =>
        {
            var user = await historyUser.ResolveAsync(parse, store, ct);
            if (!user.Ok)
            {
                return context.Fail(user.Error!);
            }

            var monthly = await new UsageService(store, TimeProvider.System).HistoryAsync(user.Value!, parse.GetValue(months), ct);
            if (!monthly.Ok)
            {
                return context.Fail(monthly.Error!);
            }

            var rows = monthly.Value!;
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, rows);
                return 0;
            }

            TableWriter.Write(context.Output, ["MONTH", "REQUESTS", "UNITS", "REQUEST BYTES", "RESPONSE BYTES", "ERRORS"],
                rows.Select(m => (IReadOnlyList<string>)
                [
                    Month(m.PeriodStart), Number(m.Requests), Number(m.Units), Number(m.RequestBytes), Number(m.ResponseBytes), Number(m.Errors),
                ]));
            return 0;
        });

        var recentUser = new UserOptions();
        var limitOption = new Option<int?>("--limit") { Description = $"How many events (default {DefaultLimit}, at most {MaxLimit})" };
        var recent = recentUser.AddTo(new Command("recent", "The user's latest requests, newest first, a page at a time") { limitOption });
        var paging = new RecentPaging(recent, "usage recent", UsageService.RecentCursorKind);
        CliApp.SetServiceHandler(recent, context, async (parse, store, ct) =>
        {
            if (CliApp.LimitOutOfRange(parse.GetValue(limitOption), MaxLimit) is { } badLimit)
            {
                return context.Fail(badLimit);
            }

            var after = paging.Read(parse);
            if (!after.Ok)
            {
                return context.Fail(after.Error!);
            }

            var user = await recentUser.ResolveAsync(parse, store, ct);
            if (!user.Ok)
            {
                return context.Fail(user.Error!);
            }

            // The newest events as far as the admin API reads back (MaxLimit), a page of --limit at a time.
            var recentEvents = await new UsageService(store, TimeProvider.System).RecentPageAsync(
                user.Value!, MaxLimit, 0, parse.GetValue(limitOption) ?? DefaultLimit, ct, after.Value);
            if (!recentEvents.Ok)
            {
                return context.Fail(recentEvents.Error!);
            }

            var page = new StorePage<Core.Usage.UsageEvent>(recentEvents.Value!.Events, recentEvents.Value.Total, recentEvents.Value.Next);
            var events = page.Items;
            if (parse.GetValue(CliApp.JsonOption))
            {
                paging.WriteJson(context.Output, page);
                return 0;
            }

            var routes = (await store.ListRoutesAsync(ct)).ToDictionary(r => r.Id, r => r.Slug);
            TableWriter.Write(context.Output, ["TIME", "METHOD", "PATH", "STATUS", "UNITS", "LATENCY", "REQ BYTES", "RESP BYTES", "ROUTE", "KEY", "CLIENT IP", "REQUEST ID"],
                events.Select(e => (IReadOnlyList<string>)
                [
                    UserCommands.Time(e.Timestamp), e.Method, e.Path, e.Status.ToString(CultureInfo.InvariantCulture), Number(e.Units),
                    e.LatencyMs.ToString("0.0", CultureInfo.InvariantCulture) + " ms", Number(e.RequestBytes), Number(e.ResponseBytes),
                    routes.GetValueOrDefault(e.RouteId, e.RouteId), e.KeyId, e.ClientIp, e.RequestId,
                ]));
            paging.WriteNext(context.Output, page);
            return 0;
        });

        command.Subcommands.Add(summary);
        command.Subcommands.Add(history);
        command.Subcommands.Add(recent);
        return command;
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Month(DateTimeOffset start) => start.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    private static string Percent(long used, long limit) => (100.0 * used / limit).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    /// <summary><c>--user &lt;id|email&gt;</c> (as everywhere else) or <c>--email &lt;e&gt;</c>: exactly one names the user.</summary>
    private sealed class UserOptions
    {
        private readonly Option<string?> _user = new("--user") { Description = "User id or email" };
        private readonly Option<string?> _email = new("--email") { Description = "User email" };

        public Command AddTo(Command command)
        {
            command.Options.Add(_user);
            command.Options.Add(_email);
            return command;
        }

        public async Task<ManagementResult<UsageSubject>> ResolveAsync(ParseResult parse, IGatewayStore store, CancellationToken ct)
        {
            var id = parse.GetValue(_user);
            var email = parse.GetValue(_email);
            if (string.IsNullOrWhiteSpace(id) == string.IsNullOrWhiteSpace(email))
            {
                return new ManagementError(ManagementErrorKind.Validation, "user", "give exactly one of --user <id or email> or --email <address>");
            }

            // --user takes an id or an email, like every other --user (and a deleted user's id); --email matches only an email.
            var reference = (id ?? email)!.Trim();
            var subject = await new UsageService(store, TimeProvider.System).FindSubjectAsync(reference, emailOnly: id is null, ct);
            return subject.Error is { Field.Length: 0 } error ? error with { Field = id is null ? "email" : "user" } : subject; // named by its flag
        }
    }
}
