using System.CommandLine;
using System.Globalization;
using ApiGate.Cli.Output;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Core.Webhooks;

namespace ApiGate.Cli.Commands;

/// <summary>
/// <c>apigate webhooks create|list|get|update|delete|test|deliveries|redeliver</c>. The signing secret is printed once,
/// by <c>create</c>; nothing else ever shows it.
/// </summary>
internal static class WebhookCommands
{
    public static Command Create(CliContext context)
    {
        var command = new Command("webhooks", "Manage outgoing webhook endpoints and their deliveries");
        command.Aliases.Add("webhook");

        var url = new Option<string?>("--url") { Description = "Where events are POSTed: an http or https URL" };
        var events = new Option<string?>("--events") { Description = $"Comma-separated event types: {string.Join(", ", WebhookEventTypes.Subscribable)}" };
        var description = new Option<string?>("--description") { Description = "A note for operators" };
        var create = new Command("create", "Create an endpoint (its signing secret is shown once)") { url, events, description };
        CliApp.SetServiceHandler(create, context, async (parse, store, ct) =>
        {
            var result = await Service(store).CreateAsync(
                new WebhookInput { Url = parse.GetValue(url), Events = Split(parse.GetValue(events)), Description = parse.GetValue(description) }, ct);
            if (!result.Ok)
            {
                return Fail(context, result.Error!);
            }

            var (endpoint, secret) = result.Value!;
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, new { endpoint.Id, endpoint.Url, endpoint.Events, endpoint.Description, endpoint.Enabled, endpoint.CreatedAt, endpoint.UpdatedAt, Secret = secret });
                return 0;
            }

            // Only the secret goes to stdout, so `SECRET=$(apigate webhooks create ...)` captures exactly it.
            TableWriter.WriteFields(context.Error, Fields(endpoint));
            context.Error.WriteLine("warning: store this signing secret now; it is not shown again (receivers verify webhook-signature with it)");
            context.Output.WriteLine(secret);
            return 0;
        });

        var list = new Command("list", "List endpoints (never their secrets)");
        CliApp.SetServiceHandler(list, context, async (parse, store, ct) =>
        {
            var endpoints = await Service(store).ListAsync(ct);
            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, endpoints);
                return 0;
            }

            TableWriter.Write(context.Output, ["ID", "URL", "EVENTS", "ENABLED", "DESCRIPTION", "CREATED"],
                endpoints.Select(e => (IReadOnlyList<string>)
                    [e.Id, e.Url, string.Join(",", e.Events), e.Enabled ? "yes" : "no", e.Description, UserCommands.Time(e.CreatedAt)]));
            return 0;
        });

        var getId = new Argument<string>("webhook") { Description = "Endpoint id" };
        var get = new Command("get", "Show one endpoint") { getId };
        CliApp.SetServiceHandler(get, context, async (parse, store, ct) =>
            Print(context, parse, await Service(store).GetAsync(parse.GetRequiredValue(getId), ct)));

        var updateId = new Argument<string>("webhook") { Description = "Endpoint id" };
        var newUrl = new Option<string?>("--url") { Description = "A new http or https URL" };
        var newEvents = new Option<string?>("--events") { Description = "The new comma-separated event types (replaces the list)" };
        var newDescription = new Option<string?>("--description") { Description = "A new note" };
        var enabled = new Option<bool?>("--enabled") { Description = "true | false (a disabled endpoint is sent nothing; its pending deliveries wait)" };
        var update = new Command("update", "Change an endpoint") { updateId, newUrl, newEvents, newDescription, enabled };
        CliApp.SetUpdateHandler(update, context, async (parse, store, ct) =>
        {
            var result = await Service(store).UpdateAsync(parse.GetRequiredValue(updateId), new WebhookInput
            {
                Url = parse.GetValue(newUrl),
                Events = Split(parse.GetValue(newEvents)),
                Description = parse.GetValue(newDescription),
                Enabled = parse.GetValue(enabled),
            }, ct);
            return result.Ok ? Print(context, parse, result) : Fail(context, result.Error!);
        });

        var deleteId = new Argument<string>("webhook") { Description = "Endpoint id" };
        var delete = new Command("delete", "Delete an endpoint with its deliveries") { deleteId };
        CliApp.SetServiceHandler(delete, context, async (parse, store, ct) =>
            CliApp.PrintDeleted(context, parse, await Service(store).DeleteAsync(parse.GetRequiredValue(deleteId), ct), "webhook", e => $"{e.Id} ({e.Url})"));

        var testId = new Argument<string>("webhook") { Description = "Endpoint id" };
        var test = new Command("test", "Queue a signed 'test' event for this endpoint (sent by the running gateway)") { testId };
        CliApp.SetServiceHandler(test, context, async (parse, store, ct) =>
        {
            var result = await Service(store).TestAsync(parse.GetRequiredValue(testId), ct);
            if (!result.Ok)
            {
                return context.Fail(result.Error!);
            }

            if (parse.GetValue(CliApp.JsonOption))
            {
                JsonOutput.Write(context.Output, new { EventId = result.Value!.Id, result.Value.Type });
            }
            else
            {
                context.Output.WriteLine($"queued test event {result.Value!.Id}; see `apigate webhooks deliveries {parse.GetRequiredValue(testId).Trim()}`");
            }

            return 0;
        });

        var deliveriesId = new Argument<string>("webhook") { Description = "Endpoint id" };
        var limit = new Option<int>("--limit") { Description = $"How many of the newest deliveries, 1 to {WebhookService.MaxDeliveries}", DefaultValueFactory = _ => 20 };
        var deliveries = new Command("deliveries", "List an endpoint's newest deliveries, each with its newest 10 attempts (status code, latency, error) and the count of all") { deliveriesId, limit };
        CliApp.SetServiceHandler(deliveries, context, async (parse, store, ct) =>
        {
            if (CliApp.LimitOutOfRange(parse.GetValue(limit), WebhookService.MaxDeliveries) is { } badLimit)
            {
                return context.Fail(badLimit);
            }

            var result = await Service(store).DeliveriesAsync(parse.GetRequiredValue(deliveriesId), parse.GetValue(limit), ct);
            return CliApp.PrintJsonOr(context, parse, result, value =>
                TableWriter.Write(context.Output, ["DELIVERY", "EVENT", "TYPE", "STATUS", "NEXT ATTEMPT", "ATTEMPTED", "CODE", "LATENCY", "ERROR"], Rows(value)));
        });

        var deliveryId = new Argument<string>("delivery") { Description = "Delivery id (as `webhooks deliveries` lists it)" };
        var redeliver = new Command("redeliver", "Send a delivery again (delivered or failed ones too), with the same webhook-id") { deliveryId };
        CliApp.SetServiceHandler(redeliver, context, async (parse, store, ct) =>
        {
            var result = await Service(store).RedeliverAsync(parse.GetRequiredValue(deliveryId), ct);
            return CliApp.PrintJsonOr(context, parse, result, d => context.Output.WriteLine($"delivery {d.Id} ({d.EventType} {d.EventId}) is pending again"));
        });

        foreach (var sub in new[] { create, list, get, update, delete, test, deliveries, redeliver })
        {
            command.Subcommands.Add(sub);
        }

        return command;
    }

    private static WebhookService Service(IGatewayStore store) => new(store, TimeProvider.System);

    /// <summary>Validation errors name the option (<c>--url</c>, <c>--events</c>), not the JSON field.</summary>
    private static int Fail(CliContext context, ManagementError error) =>
        context.Fail(error.Kind == ManagementErrorKind.Validation && error.Field is "url" or "events" or "description" ? error with { Field = "--" + error.Field } : error);

    private static List<string>? Split(string? text) => text?.Split(',', StringSplitOptions.TrimEntries).ToList();

    private static int Print(CliContext context, System.CommandLine.ParseResult parse, ManagementResult<WebhookEndpointDefinition> result) =>
        CliApp.PrintResult(context, parse, result, Fields);

    private static IEnumerable<(string Field, string Value)> Fields(WebhookEndpointDefinition e) =>
    [
        ("id", e.Id),
        ("url", e.Url),
        ("events", string.Join(",", e.Events)),
        ("description", e.Description),
        ("enabled", e.Enabled ? "yes" : "no"),
        ("created_at", UserCommands.Time(e.CreatedAt)),
        ("updated_at", UserCommands.Time(e.UpdatedAt)),
    ];

    private static IEnumerable<IReadOnlyList<string>> Rows(IReadOnlyList<WebhookDelivery> deliveries)
    {
        foreach (var d in deliveries)
        {
            var next = d.Status == WebhookDeliveryStatus.Pending ? UserCommands.Time(d.NextAttemptAt) : "";
            if (d.Attempts.Count == 0)
            {
                yield return [d.Id.ToString(CultureInfo.InvariantCulture), d.EventId, d.EventType, d.Status, next, "", "", "", ""];
                continue;
            }

            foreach (var a in d.Attempts)
            {
                yield return
                [
                    d.Id.ToString(CultureInfo.InvariantCulture), d.EventId, d.EventType, d.Status, next, UserCommands.Time(a.AttemptedAt),
                    a.StatusCode == 0 ? "-" : a.StatusCode.ToString(CultureInfo.InvariantCulture),
                    a.LatencyMs.ToString("0", CultureInfo.InvariantCulture) + " ms", a.Error,
                ];
            }
        }
    }
}
