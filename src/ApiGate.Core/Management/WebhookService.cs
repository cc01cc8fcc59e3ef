using System.Globalization;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using ApiGate.Core.Webhooks;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>Fields for creating or updating a webhook endpoint; null = not given (keep on update).</summary>
public sealed record WebhookInput
{
    /// <summary>An absolute http or https URL (required on create).</summary>
    public string? Url { get; init; }

    /// <summary>Event types to subscribe to (required on create, at least one; see <see cref="WebhookEventTypes.Subscribable"/>).</summary>
    public IReadOnlyList<string>? Events { get; init; }

    public string? Description { get; init; }

    public bool? Enabled { get; init; }
}

/// <summary>A new endpoint and its signing secret, which is shown this once.</summary>
public sealed record CreatedWebhook(WebhookEndpointDefinition Endpoint, string Secret)
{
    public override string ToString() => $"CreatedWebhook {{ Endpoint = {Endpoint} }}";
}

/// <summary>Outgoing webhook endpoints, their deliveries and redelivery: validated here for the CLI and the admin API alike.</summary>
public sealed class WebhookService(IWebhookStore store, TimeProvider timeProvider, ConflictBackOff? conflictBackOff = null)
{
    private readonly ConflictBackOff _conflictBackOff = conflictBackOff ?? ConflictBackOff.Default;

    /// <summary>The longest URL accepted.</summary>
    public const int MaxUrlLength = 2048;

    public Task<IReadOnlyList<WebhookEndpointDefinition>> ListAsync(CancellationToken ct) => store.ListWebhookEndpointsAsync(ct);

    public async Task<ManagementResult<WebhookEndpointDefinition>> GetAsync(string id, CancellationToken ct) =>
        await store.FindWebhookEndpointAsync(id.Trim(), ct) is { } endpoint ? endpoint : NotFound("webhook", id);

    public async Task<ManagementResult<CreatedWebhook>> CreateAsync(WebhookInput input, CancellationToken ct)
    {
        if (input.Url is null)
        {
            return Invalid("url", "url is required (an http or https URL)");
        }

        if (input.Events is null)
        {
            return Invalid("events", $"events is required: one or more of {string.Join(", ", WebhookEventTypes.Subscribable)}");
        }

        var now = timeProvider.GetUtcNow();
        var built = Apply(new WebhookEndpointDefinition
        {
            Id = Ids.New("wh"),
            Url = "",
            Events = [],
            Secret = WebhookSignature.NewSecret(),
            CreatedAt = now,
            UpdatedAt = now,
        }, input);
        if (built.Error is { } problem)
        {
            return problem;
        }

        var written = await WriteAsync(built.Value!, store.CreateWebhookEndpointAsync, ct);
        return written.Error ?? new ManagementResult<CreatedWebhook>(new CreatedWebhook(built.Value!, built.Value!.Secret), null);
    }

    /// <summary>
    /// Applies the given fields to the endpoint as stored; written only if nobody changed it meanwhile, else applied
    /// again to the newer one (a few times, then a conflict), so concurrent updates of different fields all land.
    /// </summary>
    public Task<ManagementResult<WebhookEndpointDefinition>> UpdateAsync(string id, WebhookInput input, CancellationToken ct) =>
        UpdateAsync(id, input, null, ct);

    /// <summary>Applies <paramref name="input"/> while <paramref name="condition"/> (when given) holds for the row as stored.</summary>
    public Task<ManagementResult<WebhookEndpointDefinition>> UpdateAsync(string id, WebhookInput input, RowCondition? condition, CancellationToken ct) =>
        RetryWhenChangedAsync(async () =>
        {
            var existing = await store.FindWebhookEndpointAsync(id.Trim(), ct);
            if (existing is null)
            {
                return NotFound("webhook", id);
            }

            if (condition?.Refuse("webhook", id, existing.UpdatedAt) is { } stale)
            {
                return stale;
            }

            var built = Apply(existing with { UpdatedAt = Storage.RowVersion.ChangedAt(timeProvider, existing.UpdatedAt) }, input);
            return built.Error
                ?? (Unchanged.Same(existing, built.Value!) ? existing
                : await WriteAsync(built.Value!, (endpoint, c) => store.UpdateWebhookEndpointAsync(endpoint, existing.UpdatedAt, c), ct));
        }, _conflictBackOff, ct);

    /// <summary>Deletes it; the same delete sent twice at once answers not found to the second (<see cref="Outcomes.DeleteFoundAsync"/>).</summary>
    public Task<ManagementResult<WebhookEndpointDefinition>> DeleteAsync(string id, CancellationToken ct) =>
        DeleteAsync(id, null, ct);

    /// <summary>Deletes it while <paramref name="condition"/> (when given) holds for the row as read.</summary>
    public Task<ManagementResult<WebhookEndpointDefinition>> DeleteAsync(string id, RowCondition? condition, CancellationToken ct) =>
        DeleteFoundAsync("webhook", id, c => store.FindWebhookEndpointAsync(id.Trim(), c), x => x.UpdatedAt, condition, (e, readAt, c) => store.DeleteWebhookEndpointAsync(e.Id, readAt, c), ct);

    /// <summary>Queues a <c>test</c> event for this endpoint only (whatever it subscribed to); returns the event.</summary>
    public async Task<ManagementResult<WebhookEvent>> TestAsync(string id, CancellationToken ct)
    {
        var existing = await store.FindWebhookEndpointAsync(id.Trim(), ct);
        if (existing is null)
        {
            return NotFound("webhook", id);
        }

        if (!existing.Enabled)
        {
            return Invalid("webhook", $"endpoint '{existing.Id}' is disabled; enable it first (a disabled endpoint is sent nothing)");
        }

        var test = WebhookPayloads.Test(existing.Id, timeProvider.GetUtcNow());
        // Nothing queued: the endpoint was deleted after it was read.
        return await store.AddWebhookEventAsync(test, existing.Id, ct) > 0 ? test : NotFound("webhook", id);
    }

    /// <summary>The most deliveries <see cref="DeliveriesAsync"/> lists at once.</summary>
    public const int MaxDeliveries = 1000;

    /// <summary>The endpoint's newest deliveries, each with its newest attempts (<see cref="WebhookDelivery.ListedAttempts"/>) and their count.</summary>
    public async Task<ManagementResult<IReadOnlyList<WebhookDelivery>>> DeliveriesAsync(string id, int limit, CancellationToken ct)
    {
        var existing = await store.FindWebhookEndpointAsync(id.Trim(), ct);
        if (existing is null)
        {
            return NotFound("webhook", id);
        }

        if (limit is < 1 or > MaxDeliveries)
        {
            return Invalid("limit", string.Create(CultureInfo.InvariantCulture, $"must be between 1 and {MaxDeliveries}"));
        }

        return new ManagementResult<IReadOnlyList<WebhookDelivery>>(await store.ListWebhookDeliveriesAsync(existing.Id, limit, ct), null);
    }

    /// <summary>One delivery with every one of its attempts (the listing carries only the newest of each).</summary>
    public async Task<ManagementResult<WebhookDelivery>> DeliveryAsync(string deliveryId, CancellationToken ct)
    {
        if (!TryParseDeliveryId(deliveryId, out var id))
        {
            return NotADeliveryId(deliveryId);
        }

        return await store.FindWebhookDeliveryAsync(id, ct) is { } delivery ? delivery : NoSuchDelivery(deliveryId);
    }

    /// <summary>Sends a delivery again (whatever its state): pending now, retried for the maximum age from now.</summary>
    public async Task<ManagementResult<WebhookDelivery>> RedeliverAsync(string deliveryId, CancellationToken ct)
    {
        if (!TryParseDeliveryId(deliveryId, out var id))
        {
            return NotADeliveryId(deliveryId);
        }

        if (!await store.RedeliverWebhookAsync(id, timeProvider.GetUtcNow(), ct))
        {
            return NoSuchDelivery(deliveryId);
        }

        return (await store.FindWebhookDeliveryAsync(id, ct))!;
    }

    private static bool TryParseDeliveryId(string deliveryId, out long id) =>
        long.TryParse(deliveryId.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out id);

    private static ManagementError NotADeliveryId(string deliveryId) =>
        new(ManagementErrorKind.Validation, "delivery", $"'{deliveryId}' is not a delivery id (a number, as `webhooks deliveries` lists them)");

    private static ManagementError NoSuchDelivery(string deliveryId) => new(ManagementErrorKind.NotFound, "", $"no webhook delivery with id '{deliveryId}'");

    /// <summary>Why <paramref name="url"/> cannot be a webhook URL, or null when it can.</summary>
    public static string? CheckUrl(string url)
    {
        if (url.Length > MaxUrlLength)
        {
            return $"url is longer than {MaxUrlLength} characters";
        }

        if (TextFields.UrlProblem(url) is { } text)
        {
            return text;
        }

        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Host.Length == 0)
        {
            return $"'{UrlUserInfo.Mask(url)}' is not an http or https URL (e.g. https://example.com/hooks/apigate)";
        }

        if (uri.Port == 0)
        {
            return "url has port 0, which nothing can be reached on";
        }

        if (uri.UserInfo.Length > 0)
        {
            // It would be stored and listed in clear; endpoints authenticate the sender by the signature instead.
            return "url must not contain a user name or password; receivers verify the webhook-signature header instead";
        }

        return null;
    }

    private static ManagementResult<WebhookEndpointDefinition> Apply(WebhookEndpointDefinition endpoint, WebhookInput input)
    {
        if (TextFields.Check("description", input.Description) is { } textProblem)
        {
            return textProblem;
        }

        if (input.Url is not null)
        {
            var url = input.Url.Trim();
            if (CheckUrl(url) is { } urlProblem)
            {
                return Invalid("url", urlProblem);
            }

            endpoint = endpoint with { Url = url };
        }

        if (input.Events is not null)
        {
            var events = new List<string>();
            foreach (var raw in input.Events)
            {
                var type = raw?.Trim() ?? "";
                if (type.Length == 0)
                {
                    continue;
                }

                if (!WebhookEventTypes.Subscribable.Contains(type))
                {
                    return Invalid("events", $"'{type}' is not an event type; one of {string.Join(", ", WebhookEventTypes.Subscribable)}");
                }

                if (!events.Contains(type))
                {
                    events.Add(type);
                }
            }

            if (events.Count == 0)
            {
                return Invalid("events", $"at least one event type is required: {string.Join(", ", WebhookEventTypes.Subscribable)}");
            }

            endpoint = endpoint with { Events = events };
        }

        if (input.Description is not null)
        {
            endpoint = endpoint with { Description = input.Description.Trim() };
        }

        if (input.Enabled is { } enabled)
        {
            endpoint = endpoint with { Enabled = enabled };
        }

        return endpoint;
    }
}
