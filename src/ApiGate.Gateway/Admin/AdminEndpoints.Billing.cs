using ApiGate.Core.Billing;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// Billing (docs/billing.md): start a Stripe Checkout for a user and a plan, open Stripe's billing portal for a user, a
/// user's billing state, and the overage outbox's totals. The customer portal calls the same <see cref="BillingService"/> methods.
/// </summary>
internal static partial class AdminEndpoints
{
    private static void MapBilling(IEndpointRouteBuilder e, IServiceProvider services)
    {
        var billing = services.GetRequiredService<BillingService>();
        var store = services.GetRequiredService<IBillingStore>();

        e.MapPost("/billing/checkout", async (HttpContext context, CancellationToken ct) =>
            {
                var (input, body, error) = await AdminBody.ReadAsync<CheckoutInput>(context, ct);
                if (error is not null)
                {
                    return error;
                }

                var result = await billing.StartCheckoutAsync(input!.User ?? "", input.Plan ?? "", input.SuccessUrl ?? "", input.CancelUrl ?? "", ct);
                return result.Ok
                    ? Results.Json(new DataDocument<BillingRedirect>(result.Value!), WireJson.Options, AdminApi.JsonContentType)
                    : AdminErrors.FromBody(result.Error!, body!);
            })
            .WithName("Start_checkout").WithTags("billing").WithMetadata(new AdminRequestBody(typeof(CheckoutInput)))
            .Produces<DataDocument<BillingRedirect>>()
            .Describe(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status422UnprocessableEntity, StatusCodes.Status502BadGateway);

        e.MapPost("/billing/portal", async (HttpContext context, CancellationToken ct) =>
            {
                var (input, body, error) = await AdminBody.ReadAsync<PortalInput>(context, ct);
                if (error is not null)
                {
                    return error;
                }

                var result = await billing.StartPortalAsync(input!.User ?? "", input.ReturnUrl ?? "", ct);
                return result.Ok
                    ? Results.Json(new DataDocument<BillingRedirect>(result.Value!), WireJson.Options, AdminApi.JsonContentType)
                    : AdminErrors.FromBody(result.Error!, body!);
            })
            .WithName("Start_billing_portal").WithTags("billing").WithMetadata(new AdminRequestBody(typeof(PortalInput)))
            .Produces<DataDocument<BillingRedirect>>()
            .Describe(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status422UnprocessableEntity, StatusCodes.Status502BadGateway);

        // The operator's answer to "why did this user's request past the quota get 402?": the same rule the CLI's
        // `users get` prints (SubscriptionOrdering.OverageOf).
        e.MapGet("/users/{id}/billing", async (string id, CancellationToken ct) => Single(await billing.GetUserBillingAsync(id, ct)))
            .WithName("Get_billing_of_user").WithTags("users").Produces<DataDocument<UserBilling>>().Describe(StatusCodes.Status404NotFound);

        e.MapGet("/billing/status", async (CancellationToken ct) =>
                Results.Json(new DataDocument<OverageTotals>(await store.GetOverageTotalsAsync(ct)), WireJson.Options, AdminApi.JsonContentType))
            .WithName("Billing_status").WithTags("billing").Produces<DataDocument<OverageTotals>>().Describe();
    }
}

/// <summary>The body of <c>POST /billing/checkout</c>.</summary>
public sealed record CheckoutInput
{
    /// <summary>The user's id or email.</summary>
    public string? User { get; init; }

    /// <summary>The plan to subscribe to (it must have a <c>stripe_price_id</c>, or, priced 0 a month, a <c>stripe_overage_price_id</c>).</summary>
    public string? Plan { get; init; }

    /// <summary>Where Stripe sends the user after paying (absolute http(s) URL).</summary>
    public string? SuccessUrl { get; init; }

    /// <summary>Where Stripe sends the user who cancels (absolute http(s) URL).</summary>
    public string? CancelUrl { get; init; }
}

/// <summary>The body of <c>POST /billing/portal</c>.</summary>
public sealed record PortalInput
{
    /// <summary>The user's id or email.</summary>
    public string? User { get; init; }

    /// <summary>Where Stripe's billing portal returns to (absolute http(s) URL).</summary>
    public string? ReturnUrl { get; init; }
}
