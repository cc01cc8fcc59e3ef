using ApiGate.Core.Management;
using ApiGate.Core.Webhooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Admin;

/// <summary>Outgoing webhook endpoints, their deliveries and redelivery; the signing secret only in the create response's <c>meta.secret</c>.</summary>
internal static partial class AdminEndpoints
{
    private static void MapWebhooks(IEndpointRouteBuilder e, IServiceProvider services, Writes writes)
    {
        var webhooks = services.GetRequiredService<WebhookService>();
        var signal = services.GetRequiredService<Webhooks.WebhookSignal>();
        MapCrud<WebhookEndpointDefinition, WebhookInput>(e, "webhooks", writes, w => w.Id, w => w.UpdatedAt,
            async (_, ct) => Listed(await webhooks.ListAsync(ct)),
            webhooks.GetAsync, create: null, webhooks.UpdateAsync, webhooks.DeleteAsync);

        e.MapPost("/webhooks", async (HttpContext context, CancellationToken ct) =>
            {
                var (input, body, error) = await AdminBody.ReadAsync<WebhookInput>(context, ct);
                if (error is not null)
                {
                    return error;
                }

                var result = await webhooks.CreateAsync(input!, ct);
                if (!result.Ok)
                {
                    return AdminErrors.FromBody(result.Error!, body!);
                }

                var (endpoint, secret) = result.Value!;
                context.Response.Headers.Location = $"{context.Request.PathBase}/webhooks/{Uri.EscapeDataString(endpoint.Id)}";
                context.Response.Headers.CacheControl = "no-store";
                AdminConditions.Tag(context, endpoint.UpdatedAt);
                return Results.Json(new CreatedWebhookDocument(endpoint, new CreatedWebhookMeta(secret)), WireJson.Options, AdminApi.JsonContentType,
                    StatusCodes.Status201Created);
            })
            .WithName("Create_webhooks").WithTags("webhooks").WithMetadata(new AdminRequestBody(typeof(WebhookInput)))
            .Produces<CreatedWebhookDocument>(StatusCodes.Status201Created).Describe(StatusCodes.Status400BadRequest, StatusCodes.Status422UnprocessableEntity);

        e.MapPost("/webhooks/{id}/test", async (string id, CancellationToken ct) =>
            {
                var result = await webhooks.TestAsync(id, ct);
                if (!result.Ok)
                {
                    return AdminErrors.From(result.Error!);
                }

                signal.Notify();
                return Results.Json(new DataDocument<QueuedWebhookEvent>(new QueuedWebhookEvent(result.Value!.Id, result.Value.Type)), WireJson.Options,
                    AdminApi.JsonContentType, StatusCodes.Status202Accepted);
            })
            .WithName("test_webhooks_action").WithTags("webhooks").Produces<DataDocument<QueuedWebhookEvent>>(StatusCodes.Status202Accepted).TakesNoBody()
            .Describe(StatusCodes.Status404NotFound);

        e.MapGet("/webhooks/{id}/deliveries", async (HttpContext context, string id, CancellationToken ct) =>
            {
                if (!TryInt(context, "limit", out var limit, out var error))
                {
                    return error!;
                }

                var result = await webhooks.DeliveriesAsync(id, limit ?? 20, ct);
                return result.Ok ? AdminPaging.Page(context, result.Value!) : AdminErrors.FromQuery(result.Error!);
            })
            .WithName("List_webhook_deliveries").WithTags("webhooks").Produces<ListDocument<WebhookDelivery>>().Paged()
            .Query("limit", "how many of the newest deliveries (default 20, 1 to 1000); each carries its newest 10 attempts and attempt_count", integer: true)
            .Describe(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status422UnprocessableEntity);

        e.MapGet("/webhooks/deliveries/{id}", async (string id, CancellationToken ct) =>
            {
                var result = await webhooks.DeliveryAsync(id, ct);

                // As for redeliver: an id that cannot be a delivery's names none.
                return result.Error is { Kind: ManagementErrorKind.Validation } malformed ? AdminErrors.NotFound(malformed.Message) : Single(result);
            })
            .WithName("Get_webhook_deliveries").WithTags("webhooks").Produces<DataDocument<WebhookDelivery>>()
            .Describe(StatusCodes.Status404NotFound);

        e.MapPost("/webhooks/deliveries/{id}/redeliver", async (string id, CancellationToken ct) =>
            {
                var result = await webhooks.RedeliverAsync(id, ct);
                if (result.Ok)
                {
                    signal.Notify();
                }

                // An id that cannot be a delivery's names none, like any unknown id in a path (the CLI says it is malformed).
                return result.Error is { Kind: ManagementErrorKind.Validation } malformed ? AdminErrors.NotFound(malformed.Message) : Single(result);
            })
            .WithName("redeliver_webhook_deliveries_action").WithTags("webhooks").Produces<DataDocument<WebhookDelivery>>().TakesNoBody()
            .Describe(StatusCodes.Status404NotFound);
    }
}

/// <summary>A created webhook endpoint, and its signing secret in <c>meta.secret</c> (the only time it is ever shown).</summary>
public sealed record CreatedWebhookDocument(WebhookEndpointDefinition Data, CreatedWebhookMeta Meta);

/// <summary>The one-time signing secret of a created webhook endpoint.</summary>
public sealed record CreatedWebhookMeta(string Secret);

/// <summary>An event queued by <c>POST /webhooks/{id}/test</c>.</summary>
public sealed record QueuedWebhookEvent(string EventId, string Type);
