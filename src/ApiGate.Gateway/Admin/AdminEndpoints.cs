using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Snapshots;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// The admin API's endpoints, relative to the base path. Each one reads its input, calls the management service the
/// CLI calls, and answers with a document; after a successful write the config snapshot is refreshed at once, so
/// the change applies to the next proxied request on this instance (other instances see it on their next poll).
/// </summary>
internal static partial class AdminEndpoints
{
    public static void Map(IEndpointRouteBuilder endpoints)
    {
        var services = endpoints.ServiceProvider;
        var writes = new Writes(services.GetRequiredService<SnapshotManager>());
        MapUpstreams(endpoints, services.GetRequiredService<UpstreamService>(), writes);
        MapRoutes(endpoints, services.GetRequiredService<RouteService>(), writes);
        MapIdentity(endpoints, services, writes);
        MapUsage(endpoints, services.GetRequiredService<UsageService>());
        MapTargets(endpoints, services.GetRequiredService<UpstreamService>(), services.GetRequiredService<Core.Storage.IGatewayStore>(),
            services.GetRequiredService<Balancing.TargetRegistry>(), services.GetRequiredService<Balancing.TargetHealthReporter>());
        MapSettings(endpoints);
        MapAudit(endpoints, new AdminAuditService(services.GetRequiredService<IGatewayStore>()));
        MapWebhooks(endpoints, services, writes);
        MapBilling(endpoints, services);
        endpoints.MapOpenApi("/openapi.json").WithTags("openapi")
            // The document's servers are made of HttpRequest.Host, which throws on a label that is not punycode.
            .AddEndpointFilter((context, next) => Pipeline.RequestHost.CanBeDecoded(context.HttpContext.Request)
                ? next(context)
                : ValueTask.FromResult<object?>(AdminErrors.BadRequest("the Host header has an xn-- label that is not valid punycode")));
    }

    private static void MapUpstreams(IEndpointRouteBuilder e, UpstreamService upstreams, Writes writes) =>
        MapCrud<Core.Upstreams.UpstreamDefinition, UpstreamInput, UpstreamChanges>(e, "upstreams", writes, u => u.Id, u => u.UpdatedAt, input => input.ToChanges(),
            async (_, ct) => Listed(await upstreams.ListAsync(ct)),
            upstreams.GetAsync, upstreams.CreateAsync, upstreams.UpdateAsync, upstreams.DeleteAsync);

    private static void MapRoutes(IEndpointRouteBuilder e, RouteService routeService, Writes writes)
    {
        MapCrud<Core.Routing.RouteDefinition, RouteInput, RouteChanges>(e, "routes", writes, r => r.Id, r => r.UpdatedAt, input => input.ToChanges(),
            async (_, ct) =>
            {
                var routes = (await routeService.ListAsync(ct)).ToList();
                Core.Routing.CompiledRoute.SortByPrecedence(routes); // the order the CLI lists them in: precedence
                return Listed(routes);
            },
            routeService.GetAsync, routeService.CreateAsync, routeService.UpdateAsync, routeService.DeleteAsync);
        MapAction(e, "routes", "enable", writes, r => r.UpdatedAt, (id, condition, ct) => routeService.UpdateAsync(id, new RouteChanges { Enabled = true }, condition, ct));
        MapAction(e, "routes", "disable", writes, r => r.UpdatedAt, (id, condition, ct) => routeService.UpdateAsync(id, new RouteChanges { Enabled = false }, condition, ct));
    }

    // ---- shapes shared by every resource ----

    private static ManagementResult<IReadOnlyList<T>> Listed<T>(IReadOnlyList<T> items) => new(items, null);

    /// <summary><see cref="MapCrud{TDef, TInput, TChanges}"/> for a resource whose service takes the body record itself.</summary>
    private static void MapCrud<TDef, TInput>(
        IEndpointRouteBuilder e,
        string resource,
        Writes writes,
        Func<TDef, string> idOf,
        Func<TDef, DateTimeOffset>? versionOf,
        Func<HttpContext, CancellationToken, Task<ManagementResult<IReadOnlyList<TDef>>>> list,
        Func<string, CancellationToken, Task<ManagementResult<TDef>>> get,
        Func<TInput, CancellationToken, Task<ManagementResult<TDef>>>? create,
        Func<string, TInput, RowCondition?, CancellationToken, Task<ManagementResult<TDef>>>? update,
        Func<string, RowCondition?, CancellationToken, Task<ManagementResult<TDef>>>? delete,
        AdminQueryParameter? listFilter = null)
        where TInput : class =>
        MapCrud<TDef, TInput, TInput>(e, resource, writes, idOf, versionOf, input => new ManagementResult<TInput>(input, null), list, get, create, update, delete, listFilter);

    /// <summary>
    /// List, get, create, update (PATCH and PUT, both partial) and delete for one resource; null operations are not
    /// mapped (a resource too large to list from memory maps its own list, read a page at a time from the store). The body is read as <typeparamref name="TInput"/> and parsed once, by <paramref name="parse"/>, into the
    /// typed change the service takes; a field that cannot be parsed is a 422 pointing at it, like the service's refusals.
    /// With <paramref name="versionOf"/> (a row that has <c>updated_at</c>), one resource is sent with its ETag and its GET,
    /// update and delete evaluate If-Match (<see cref="AdminConditions"/>); without it they refuse the header.
    /// </summary>
    private static void MapCrud<TDef, TInput, TChanges>(
        IEndpointRouteBuilder e,
        string resource,
        Writes writes,
        Func<TDef, string> idOf,
        Func<TDef, DateTimeOffset>? versionOf,
        Func<TInput, ManagementResult<TChanges>> parse,
        Func<HttpContext, CancellationToken, Task<ManagementResult<IReadOnlyList<TDef>>>>? list,
        Func<string, CancellationToken, Task<ManagementResult<TDef>>> get,
        Func<TChanges, CancellationToken, Task<ManagementResult<TDef>>>? create,
        Func<string, TChanges, RowCondition?, CancellationToken, Task<ManagementResult<TDef>>>? update,
        Func<string, RowCondition?, CancellationToken, Task<ManagementResult<TDef>>>? delete,
        AdminQueryParameter? listFilter = null)
        where TInput : class
    {
        var collection = "/" + resource;
        var item = collection + "/{id}";
        var kind = resource[..^1]; // "route" of "routes": every resource with a version is named by a plural in s
        if (list is not null)
        {
            e.MapGet(collection, async (HttpContext context, CancellationToken ct) =>
                {
                    var result = await list(context, ct);
                    return result.Ok ? AdminPaging.Page(context, result.Value!) : AdminErrors.FromQuery(result.Error!);
                })
                .WithName("List_" + resource).WithTags(resource).Produces<ListDocument<TDef>>().Paged().WithMetadata(listFilter is null ? [] : [listFilter]).Describe();
        }

        e.MapGet(item, async (HttpContext context, string id, CancellationToken ct) =>
            {
                var found = await get(id, ct);
                return found.Ok && versionOf is not null ? AdminConditions.Evaluate(context, kind, id, versionOf(found.Value!)) ?? Single(found) : Single(found);
            })
            .WithName("Get_" + resource).WithTags(resource).Produces<DataDocument<TDef>>().Conditional(versionOf, read: true).Describe(StatusCodes.Status404NotFound);

        if (create is not null)
        {
            e.MapPost(collection, async (HttpContext context, CancellationToken ct) =>
                {
                    var (input, body, error) = await AdminBody.ReadAsync<TInput>(context, ct);
                    if (error is not null)
                    {
                        return error;
                    }

                    var changes = parse(input!);
                    if (!changes.Ok)
                    {
                        return AdminErrors.FromBody(changes.Error!, body!);
                    }

                    var result = await writes.DoneAsync(await create(changes.Value!, ct), ct);
                    if (!result.Ok)
                    {
                        return AdminErrors.FromBody(result.Error!, body!);
                    }

                    context.Response.Headers.Location = $"{context.Request.PathBase}{collection}/{Uri.EscapeDataString(idOf(result.Value!))}";
                    if (versionOf is not null)
                    {
                        AdminConditions.Tag(context, versionOf(result.Value!));
                    }

                    return Results.Json(new DataDocument<TDef>(result.Value!), Core.Management.WireJson.Options, AdminApi.JsonContentType, StatusCodes.Status201Created);
                })
                .WithName("Create_" + resource).WithTags(resource).WithMetadata(new AdminRequestBody(typeof(TInput)))
                .Produces<DataDocument<TDef>>(StatusCodes.Status201Created).Describe(StatusCodes.Status400BadRequest, StatusCodes.Status409Conflict, StatusCodes.Status422UnprocessableEntity);
        }

        if (update is not null)
        {
            e.MapMethods(item, [HttpMethods.Patch, HttpMethods.Put], async (HttpContext context, string id, CancellationToken ct) =>
                {
                    if (!AdminConditions.TryRead(context, out var condition, out var conditionError))
                    {
                        return conditionError!;
                    }

                    var (input, body, error) = await AdminBody.ReadAsync<TInput>(context, ct);
                    if (error is not null)
                    {
                        return error;
                    }

                    var changes = parse(input!);
                    if (!changes.Ok)
                    {
                        return AdminErrors.FromBody(changes.Error!, body!);
                    }

                    var result = await writes.DoneAsync(await update(id, changes.Value!, condition, ct), ct);
                    return result.Ok ? Tag(context, result, versionOf) : AdminErrors.FromBody(result.Error!, body!);
                })
                .WithName("Update_" + resource).WithTags(resource).WithMetadata(new AdminRequestBody(typeof(TInput)))
                .Produces<DataDocument<TDef>>().Conditional(versionOf).Describe(StatusCodes.Status400BadRequest, StatusCodes.Status404NotFound, StatusCodes.Status409Conflict, StatusCodes.Status422UnprocessableEntity);
        }

        if (delete is not null)
        {
            e.MapDelete(item, async (HttpContext context, string id, CancellationToken ct) =>
                {
                    if (!AdminConditions.TryRead(context, out var condition, out var conditionError))
                    {
                        return conditionError!;
                    }

                    var result = await writes.DoneAsync(await delete(id, condition, ct), ct);
                    return result.Ok ? Results.NoContent() : AdminErrors.From(result.Error!);
                })
                .WithName("Delete_" + resource).WithTags(resource).Produces(StatusCodes.Status204NoContent).TakesNoBody().Conditional(versionOf)
                .Describe(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);
        }
    }

    /// <summary>
    /// <c>POST /{resource}/{id}/{verb}</c>: a one-word change such as enable or disable of a row with a version; answers
    /// the changed resource and its ETag, and takes If-Match like an update.
    /// </summary>
    private static void MapAction<TDef>(
        IEndpointRouteBuilder e, string resource, string verb, Writes writes, Func<TDef, DateTimeOffset> versionOf,
        Func<string, RowCondition?, CancellationToken, Task<ManagementResult<TDef>>> action) =>
        e.MapPost($"/{resource}/{{id}}/{verb}", async (HttpContext context, string id, CancellationToken ct) =>
            {
                if (!AdminConditions.TryRead(context, out var condition, out var conditionError))
                {
                    return conditionError!;
                }

                var result = await writes.DoneAsync(await action(id, condition, ct), ct);
                return result.Ok ? Tag(context, result, versionOf) : AdminErrors.From(result.Error!);
            })
            .WithName($"{verb}_{resource}").WithTags(resource).Produces<DataDocument<TDef>>().TakesNoBody().Conditional(versionOf)
            .Describe(StatusCodes.Status404NotFound, StatusCodes.Status409Conflict);

    /// <summary><see cref="Single{T}"/> of a written row, with its ETag when it has a version.</summary>
    private static IResult Tag<T>(HttpContext context, ManagementResult<T> result, Func<T, DateTimeOffset>? versionOf)
    {
        if (result.Ok && versionOf is not null)
        {
            AdminConditions.Tag(context, versionOf(result.Value!));
        }

        return Single(result);
    }

    /// <summary>Marks the endpoint as evaluating If-Match (<see cref="AdminConditions.Conditional"/>) when its rows have a version.</summary>
    private static RouteHandlerBuilder Conditional<T>(this RouteHandlerBuilder builder, Func<T, DateTimeOffset>? versionOf, bool read = false) =>
        versionOf is null ? builder : builder.Conditional(read);

    private static IResult Single<T>(ManagementResult<T> result) =>
        result.Ok ? Results.Json(new DataDocument<T>(result.Value!), Core.Management.WireJson.Options, AdminApi.JsonContentType) : AdminErrors.From(result.Error!);

    /// <summary>
    /// The error responses an endpoint can give besides 401 and 400 (which every endpoint can: 400 for a query parameter
    /// it does not read, <see cref="AdminApi"/>), for openapi.json.
    /// </summary>
    private static RouteHandlerBuilder Describe(this RouteHandlerBuilder builder, params int[] statuses)
    {
        builder.Produces<ErrorDocument>(StatusCodes.Status401Unauthorized, AdminApi.JsonContentType);
        builder.Produces<ErrorDocument>(StatusCodes.Status400BadRequest, AdminApi.JsonContentType);
        foreach (var status in statuses)
        {
            builder.Produces<ErrorDocument>(status, AdminApi.JsonContentType);
        }

        return builder;
    }

    /// <summary>
    /// For an endpoint that takes no fields (an action, a DELETE): a body is refused before the handler runs unless it is
    /// empty or <c>{}</c> (<see cref="AdminBody.ReadNoneAsync"/>), so nothing is changed by a request it was not meant for.
    /// </summary>
    private static RouteHandlerBuilder TakesNoBody(this RouteHandlerBuilder builder) =>
        builder.AddEndpointFilter(async (invocation, next) =>
                await AdminBody.ReadNoneAsync(invocation.HttpContext, invocation.HttpContext.RequestAborted) ?? await next(invocation))
            .Produces<ErrorDocument>(StatusCodes.Status400BadRequest, AdminApi.JsonContentType)
            .Produces<ErrorDocument>(StatusCodes.Status413PayloadTooLarge, AdminApi.JsonContentType)
            .Produces<ErrorDocument>(StatusCodes.Status415UnsupportedMediaType, AdminApi.JsonContentType)
            .Produces<ErrorDocument>(StatusCodes.Status422UnprocessableEntity, AdminApi.JsonContentType);

    /// <summary>Marks a collection endpoint as paged (<c>page[number]</c>, <c>page[size]</c>) for openapi.json.</summary>
    private static RouteHandlerBuilder Paged(this RouteHandlerBuilder builder) =>
        builder.WithMetadata(
            new AdminQueryParameter(AdminPaging.NumberParameter, Integer: true, Required: false, "1-based page number (default 1)"),
            new AdminQueryParameter(AdminPaging.SizeParameter, Integer: true, Required: false, $"items per page (default {AdminPaging.DefaultSize}, at most {AdminPaging.MaxSize})"));

    /// <summary>Marks a paged collection endpoint as also read by cursor (<c>page[after]</c>) for openapi.json.</summary>
    private static RouteHandlerBuilder ByCursor(this RouteHandlerBuilder builder) =>
        builder.WithMetadata(new AdminQueryParameter(AdminPaging.AfterParameter, Integer: false, Required: false,
            $"continue after this cursor (meta.next_cursor of the page before) instead of counting pages; not with {AdminPaging.NumberParameter}"));

    /// <summary>Describes a query parameter the handler reads, for openapi.json.</summary>
    private static RouteHandlerBuilder Query(this RouteHandlerBuilder builder, string name, string description, bool required = false, bool integer = false) =>
        builder.WithMetadata(new AdminQueryParameter(name, integer, required, description));

    /// <summary>After a successful write, applies it to this instance's snapshot before answering.</summary>
    private sealed class Writes(SnapshotManager snapshots)
    {
        public async Task<ManagementResult<T>> DoneAsync<T>(ManagementResult<T> result, CancellationToken ct)
        {
            if (result.Ok)
            {
                try
                {
                    await snapshots.RefreshAsync(force: false, ct);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    // The write is stored; the next poll applies it (and reports a failure to build the snapshot).
                }
            }

            return result;
        }
    }
}
