using System.CommandLine;
using System.Globalization;
using ApiGate.Cli.Output;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;

namespace ApiGate.Cli.Commands;

/// <summary>
/// <c>apigate usage summary|history|recent --user &lt;id&gt; | --email &lt;e&gt;</c>: what a user has used, from the
/// recorded usage events (SPEC §8), beside their plan's quota and the quota counter the gateway enforces.
/// </summary>
internal static class UsageCommands
{
    public const int DefaultMonths = 6;
    public const int MaxMonths = 120;
    public const int DefaultLimit = 20;
    public const int MaxLimit = 10_000;

    public static Command Create(CliContext context)
    {
        var command = new Command("usage", "Show a user's recorded usage");

        var summaryUser = new UserOptions();
        var summary = summaryUser.AddTo(new Command("summary", "This calendar month (UTC): totals, the plan's quota and the quota counter"));
        CliApp.SetServiceHandler(summary, context, async (parse, service, store, ct) =>
        {
            var user = await summaryUser.ResolveAsync(parse, store, ct);
            if (!user.Ok)
            {
                return context.Fail(user.Error!);
            }

            var u = user.Value!;
            var now = TimeProvider.System.GetUtcNow();
            var start = QuotaPeriod.StartOf(now);
            var totals = await store.GetUsageSummaryAsync(u.Id, start, QuotaPeriod.ResetOf(now), ct);
            var plan = await store.FindPlanAsync(u.PlanId, ct);
            var counter = (await store.LoadQuotaUsageAsync(start, ct)).FirstOrDefault(q => q.UserId == u.Id);
            var limit = plan?.RequestsPerMonth ?? 0;
            var remaining = limit <= 0 ? -1 : Math.Max(0, limit - counter.Used);
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, new SummaryJson(
                    u.Id, u.Email, u.PlanId, totals.PeriodStart, totals.PeriodEnd, totals.Requests, totals.Units, totals.RequestBytes, totals.ResponseBytes,
                    totals.Errors, limit, counter.Used, counter.Overage, remaining));
                return 0;
            }

            TableWriter.WriteFields(context.Output,
            [
                ("user", $"{u.Email} ({u.Id})"),
                ("plan", plan is null ? u.PlanId : $"{plan.Id} ({plan.Name})"),
                ("period", $"{Month(totals.PeriodStart)} ({UserCommands.Time(totals.PeriodStart)} to {UserCommands.Time(totals.PeriodEnd)})"),
                ("requests", Number(totals.Requests)),
                ("units", Number(totals.Units)),
                ("request_bytes", Number(totals.RequestBytes)),
                ("response_bytes", Number(totals.ResponseBytes)),
                ("errors", Number(totals.Errors) + " (status 5xx)"),
                ("quota_limit", limit <= 0 ? "unlimited" : Number(limit) + " units/month"),
                ("quota_used", Number(counter.Used) + (limit <= 0 ? "" : $" ({Percent(counter.Used, limit)} of the quota)")),
                ("quota_remaining", remaining < 0 ? "unlimited" : Number(remaining)),
                ("quota_overage", Number(counter.Overage)),
            ]);
            return 0;
        });

        var historyUser = new UserOptions();
        var months = new Option<int?>("--months") { Description = $"How many calendar months, this one included (default {DefaultMonths}, at most {MaxMonths})" };
        var history = historyUser.AddTo(new Command("history", "Totals per calendar month (UTC), newest first") { months });
        CliApp.SetServiceHandler(history, context, async (parse, service, store, ct) =>
        {
            var count = parse.GetValue(months) ?? DefaultMonths;
            if (count is < 1 or > MaxMonths)
            {
                return context.Fail(new ManagementError(ManagementErrorKind.Validation, "months", $"must be between 1 and {MaxMonths}"));
            }

            var user = await historyUser.ResolveAsync(parse, store, ct);
            if (!user.Ok)
            {
                return context.Fail(user.Error!);
            }

            var rows = await store.GetUsageHistoryAsync(user.Value!.Id, count, TimeProvider.System.GetUtcNow(), ct);
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
        var recent = recentUser.AddTo(new Command("recent", "The user's latest requests, newest first") { limitOption });
        CliApp.SetServiceHandler(recent, context, async (parse, service, store, ct) =>
        {
            var limit = parse.GetValue(limitOption) ?? DefaultLimit;
            if (limit is < 1 or > MaxLimit)
            {
                return context.Fail(new ManagementError(ManagementErrorKind.Validation, "limit", $"must be between 1 and {MaxLimit}"));
            }

            var user = await recentUser.ResolveAsync(parse, store, ct);
            if (!user.Ok)
            {
                return context.Fail(user.Error!);
            }

            var events = await store.GetRecentUsageAsync(user.Value!.Id, limit, ct);
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, events);
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

    /// <summary><c>--user &lt;id&gt;</c> or <c>--email &lt;e&gt;</c>: exactly one names the user.</summary>
    private sealed class UserOptions
    {
        private readonly Option<string?> _user = new("--user") { Description = "User id" };
        private readonly Option<string?> _email = new("--email") { Description = "User email" };

        public Command AddTo(Command command)
        {
            command.Options.Add(_user);
            command.Options.Add(_email);
            return command;
        }

        public async Task<ManagementResult<UserDefinition>> ResolveAsync(ParseResult parse, IGatewayStore store, CancellationToken ct)
        {
            var id = parse.GetValue(_user);
            var email = parse.GetValue(_email);
            if (string.IsNullOrWhiteSpace(id) == string.IsNullOrWhiteSpace(email))
            {
                return new ManagementError(ManagementErrorKind.Validation, "user", "give exactly one of --user <id> or --email <address>");
            }

            // Each flag matches only its own field: an email given to --user (or an id to --email) is not found.
            var reference = (id ?? email)!.Trim();
            var user = await store.FindUserAsync(reference, ct);
            var matches = user is not null && (id is not null
                ? string.Equals(user.Id, reference, StringComparison.Ordinal)
                : string.Equals(user.Email, reference, StringComparison.OrdinalIgnoreCase));
            return matches
                ? user!
                : new ManagementError(ManagementErrorKind.NotFound, "", id is not null ? $"no user with id '{reference}'" : $"no user with email '{reference}'");
        }
    }

    /// <summary>The summary as JSON: the month's totals, the plan's quota (0 = unlimited) and the enforced counter (remaining -1 = unlimited).</summary>
    private sealed record SummaryJson(
        string UserId, string Email, string PlanId, DateTimeOffset PeriodStart, DateTimeOffset PeriodEnd, long Requests, long Units, long RequestBytes,
        long ResponseBytes, long Errors, long QuotaLimit, long QuotaUsed, long QuotaOverage, long QuotaRemaining);
}
