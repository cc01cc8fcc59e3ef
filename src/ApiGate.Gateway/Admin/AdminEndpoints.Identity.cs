using ApiGate.Core.Entitlements;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Admin;

/// <summary>Users, plans, API keys, entitlements and plan entitlements.</summary>
internal static partial class AdminEndpoints
{
    private static void MapIdentity(IEndpointRouteBuilder e, IServiceProvider services, Writes writes)
    {
        var users = services.GetRequiredService<UserService>();
        var plans = services.GetRequiredService<PlanService>();
        var entitlements = services.GetRequiredService<EntitlementService>();
        var planEntitlements = services.GetRequiredService<PlanEntitlementService>();
        // Listed a page at a time from the store: there may be hundreds of thousands of users.
        e.MapGet("/users", async (HttpContext context, CancellationToken ct) =>
            {
                if (!AdminPaging.TryRead(context, "users", out var page, out var error))
                {
                    return error!;
                }

                var found = await users.ListPageAsync(context.Request.Query["q"].ToString(), page.Skip, page.Size, ct, page.After);
                return AdminPaging.Page(context, page, found, "users");
            })
            .WithName("List_users").WithTags("users").Produces<ListDocument<UserDefinition>>().Paged().ByCursor()
            .Query("q", "only users whose email contains this text (ignoring the case of ASCII letters)").Describe();
        MapCrud<UserDefinition, UserInput, UserChanges>(e, "users", writes, u => u.Id, u => u.UpdatedAt, input => input.ToChanges(), list: null,
            users.GetAsync, users.CreateAsync, users.UpdateAsync, users.DeleteAsync);
        MapAction(e, "users", "activate", writes, u => u.UpdatedAt, (id, condition, ct) => users.UpdateAsync(id, new UserChanges { Status = UserStatus.Active }, condition, ct));
        MapAction(e, "users", "deactivate", writes, u => u.UpdatedAt, (id, condition, ct) => users.UpdateAsync(id, new UserChanges { Status = UserStatus.Suspended }, condition, ct));
        MapUserIdentities(e, users, writes, services.GetRequiredService<GatewayOptions>().JwtIssuer);

        MapCrud<PlanDefinition, PlanInput>(e, "plans", writes, p => p.Id, p => p.UpdatedAt,
            async (_, ct) => Listed(await plans.ListAsync(ct)),
            plans.GetAsync, plans.CreateAsync, plans.UpdateAsync, plans.DeleteAsync);
        MapAction(e, "plans", "enable", writes, p => p.UpdatedAt, (id, condition, ct) => plans.UpdateAsync(id, new PlanInput { Enabled = true }, condition, ct));
        MapAction(e, "plans", "disable", writes, p => p.UpdatedAt, (id, condition, ct) => plans.UpdateAsync(id, new PlanInput { Enabled = false }, condition, ct));
        e.MapGet("/plans/{id}/entitlements", async (HttpContext context, string id, CancellationToken ct) =>
            {
                var result = await planEntitlements.ListAsync(id, ct);
                return result.Ok ? AdminPaging.Page(context, result.Value!) : AdminErrors.From(result.Error!);
            })
            .WithName("List_plan_entitlements_of_plan").WithTags("plan-entitlements").Produces<ListDocument<PlanEntitlement>>().Paged().Describe(StatusCodes.Status404NotFound);

        MapKeys(e, services.GetRequiredService<KeyService>(), users, writes, services.GetRequiredService<TimeProvider>());

        MapCrud<EntitlementDefinition, EntitlementInput, EntitlementChanges>(e, "entitlements", writes, x => x.Id, x => x.UpdatedAt, input => input.ToChanges(),
            async (_, ct) => Listed(await entitlements.ListAsync(ct)),
            entitlements.GetAsync, entitlements.CreateAsync, entitlements.UpdateAsync, entitlements.DeleteAsync);

        MapCrud<PlanEntitlement, PlanEntitlementInput>(e, "plan-entitlements", writes, a => a.Id, versionOf: null,
            async (context, ct) =>
            {
                // ?plan= (empty) names no plan, as above for keys: not every plan's values.
                var result = await planEntitlements.ListAsync(context.Request.Query.TryGetValue("plan", out var plan) ? plan.ToString() : null, ct);
                return result.Ok || result.Error!.Kind != ManagementErrorKind.NotFound
                    ? result
                    : new ManagementError(ManagementErrorKind.NotFound, "plan", result.Error.Message);
            },
            planEntitlements.GetAsync, planEntitlements.CreateAsync,
            (id, input, _, ct) => planEntitlements.UpdateAsync(id, input, ct), (id, _, ct) => planEntitlements.DeleteAsync(id, ct), // no version: If-Match is refused
            new AdminQueryParameter("plan", Integer: false, Required: false, "only this plan's values (plan id)"));
    }

    /// <summary>
    /// <c>/users/{id}/identities</c>: the JWT subjects that act as the user. Linked by POST (the issuer defaults to the
    /// gateway's <c>jwt.issuer</c>), unlinked by DELETE naming <c>subject</c> (and <c>issuer</c>) in the query.
    /// </summary>
    private static void MapUserIdentities(IEndpointRouteBuilder e, UserService users, Writes writes, string configuredIssuer)
    {
        e.MapGet("/users/{id}/identities", async (HttpContext context, string id, CancellationToken ct) =>
            {
                var result = await users.ListIdentitiesAsync(id, ct);
                return result.Ok ? AdminPaging.Page(context, result.Value!) : AdminErrors.From(result.Error!);
            })
            .WithName("List_identities_of_user").WithTags("users").Produces<ListDocument<UserIdentity>>().Paged().Describe(StatusCodes.Status404NotFound);

        e.MapPost("/users/{id}/identities", async (HttpContext context, string id, CancellationToken ct) =>
            {
                var (input, body, error) = await AdminBody.ReadAsync<IdentityInput>(context, ct);
                if (error is not null)
                {
                    return error;
                }

                var link = input!.ToLink(configuredIssuer);
                var result = link.Ok ? await writes.DoneAsync(await users.LinkIdentityAsync(id, link.Value!, ct), ct) : new(default, link.Error);
                if (!result.Ok)
                {
                    return AdminErrors.FromBody(result.Error!, body!);
                }

                // The audit trail's path names the user; which subject was linked is in the body, so it goes in the note.
                var linked = result.Value!;
                context.Features.Set(new AdminAuditNote($"Linked subject '{linked.Subject}' of {linked.Issuer} to user {linked.UserId}."));
                // A link has no id of its own: its address is the one DELETE unlinks it at.
                context.Response.Headers.Location = $"{context.Request.PathBase}/users/{Uri.EscapeDataString(linked.UserId)}/identities"
                    + QueryString.Create([KeyValuePair.Create("subject", (string?)linked.Subject), KeyValuePair.Create("issuer", (string?)linked.Issuer)]);
                return Results.Json(new DataDocument<UserIdentity>(linked), WireJson.Options, AdminApi.JsonContentType, StatusCodes.Status201Created);
            })
            .WithName("Link_identity_to_user").WithTags("users").WithMetadata(new AdminRequestBody(typeof(IdentityInput)))
            .Produces<DataDocument<UserIdentity>>(StatusCodes.Status201Created)
            .Describe(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status422UnprocessableEntity);

        e.MapDelete("/users/{id}/identities", async (HttpContext context, string id, CancellationToken ct) =>
            {
                var query = context.Request.Query;
                var link = new IdentityInput { Subject = query["subject"].ToString(), Issuer = query["issuer"].ToString() }.ToLink(configuredIssuer);
                if (!link.Ok)
                {
                    return AdminErrors.FromQuery(link.Error!);
                }

                var result = await writes.DoneAsync(await users.UnlinkIdentityAsync(id, link.Value!, ct), ct);
                if (!result.Ok)
                {
                    return AdminErrors.FromQuery(result.Error!);
                }

                // The audit trail keeps the path without its query: the subject goes in the note.
                context.Features.Set(new AdminAuditNote($"Unlinked subject '{result.Value!.Subject}' of {result.Value.Issuer} from user {result.Value.UserId}."));
                return Results.NoContent();
            })
            .WithName("Unlink_identity_from_user").WithTags("users").Produces(StatusCodes.Status204NoContent).TakesNoBody()
            .Query("subject", "the linked subject, exactly", required: true)
            .Query("issuer", "the issuer URL (default: the gateway's jwt.issuer)")
            .Describe(StatusCodes.Status404NotFound, StatusCodes.Status422UnprocessableEntity);
    }

    /// <summary>Keys are created and revoked, never edited; the full key is in the create response's <c>meta.key</c> only.</summary>
    private static void MapKeys(IEndpointRouteBuilder e, KeyService keys, UserService users, Writes writes, TimeProvider clock)
    {
        e.MapGet("/keys", async (HttpContext context, CancellationToken ct) =>
            {
                string? userId = null;
                // Given empty (?user= from a script whose variable was unset), it is a user that does not exist, as the
                // CLI's --user "" is: not every user's keys, which a script revoking "the user's keys" would then revoke.
                if (context.Request.Query.TryGetValue("user", out var reference))
                {
                    var owner = await users.GetAsync(reference.ToString(), ct);
                    if (!owner.Ok)
                    {
                        return AdminErrors.From(owner.Error!, new ErrorSource(Parameter: "user"));
                    }

                    userId = owner.Value!.Id;
                }

                if (!AdminPaging.TryRead(context, "keys", out var page, out var error))
                {
                    return error!;
                }

                // Only the page is read: there may be hundreds of thousands of keys.
                var found = await keys.ListPageAsync(userId, page.Skip, page.Size, ct, page.After);
                return AdminPaging.Page(context, page, found, "keys");
            })
            .WithName("List_keys").WithTags("keys").Produces<ListDocument<ApiKeyDefinition>>().Paged().ByCursor()
            .Query("user", "only this user's keys (id or email)").Describe(StatusCodes.Status404NotFound);

        e.MapGet("/keys/{id}", async (string id, CancellationToken ct) => Single(await keys.GetAsync(id, ct)))
            .WithName("Get_keys").WithTags("keys").Produces<DataDocument<ApiKeyDefinition>>().Describe(StatusCodes.Status404NotFound);

        e.MapPost("/keys", async (HttpContext context, CancellationToken ct) =>
            {
                var (input, body, error) = await AdminBody.ReadAsync<KeyInput>(context, ct);
                if (error is not null)
                {
                    return error;
                }

                var changes = input!.ToChanges(clock);
                if (!changes.Ok)
                {
                    return AdminErrors.FromBody(changes.Error!, body!);
                }

                var result = await writes.DoneAsync(await keys.CreateAsync(changes.Value!, ct), ct);
                if (!result.Ok)
                {
                    return AdminErrors.FromBody(result.Error!, body!);
                }

                var (key, fullKey) = result.Value!;
                context.Response.Headers.Location = $"{context.Request.PathBase}/keys/{Uri.EscapeDataString(key.Id)}";
                context.Response.Headers.CacheControl = "no-store";
                return Results.Json(new CreatedKeyDocument<ApiKeyDefinition>(key, new CreatedKeyMeta(fullKey)), WireJson.Options, AdminApi.JsonContentType,
                    StatusCodes.Status201Created);
            })
            .WithName("Create_keys").WithTags("keys").WithMetadata(new AdminRequestBody(typeof(KeyInput)))
            .Produces<CreatedKeyDocument<ApiKeyDefinition>>(StatusCodes.Status201Created)
            .Describe(StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict, StatusCodes.Status422UnprocessableEntity);

        // Revoking is permanent; DELETE and POST .../revoke are the same operation and answer the revoked key.
        async Task<IResult> RevokeAsync(string id, CancellationToken ct) => Single(await writes.DoneAsync(await keys.RevokeAsync(id, ct), ct));
        e.MapDelete("/keys/{id}", RevokeAsync)
            .WithName("Delete_keys").WithTags("keys").Produces<DataDocument<ApiKeyDefinition>>().TakesNoBody().Describe(StatusCodes.Status404NotFound);
        e.MapPost("/keys/{id}/revoke", RevokeAsync)
            .WithName("revoke_keys_action").WithTags("keys").Produces<DataDocument<ApiKeyDefinition>>().TakesNoBody().Describe(StatusCodes.Status404NotFound);
    }
}
