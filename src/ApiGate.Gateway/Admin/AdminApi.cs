using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Reserved;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.OpenApi;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// The admin REST API (docs/admin-api.md): a branch of the server for requests under
/// <see cref="GatewayOptions.AdminBasePath"/>, with its own endpoint routing, so proxied requests never pay for it
/// and no route can shadow it. Every request needs an admin token (<see cref="AdminAuthenticator"/>); the endpoints
/// call the same management services as the CLI.
/// </summary>
internal static class AdminApi
{
    /// <summary>The content type of every admin API response.</summary>
    public const string JsonContentType = "application/json";

    /// <summary>Registers the admin API's services. Call <see cref="MapAdminApi"/> on the built app.</summary>
    public static IServiceCollection AddAdminApi(this IServiceCollection services, GatewayOptions options)
    {
        services.AddRouting();
        services.ConfigureHttpJsonOptions(json => WireJson.Configure(json.SerializerOptions)); // schema names in openapi.json
        services.AddOpenApi(openApi =>
        {
            openApi.AddDocumentTransformer((document, _, _) =>
            {
                Describe(document);
                return Task.CompletedTask;
            });
            openApi.AddSchemaTransformer(AdminBodySchema.TransformAsync);
            openApi.AddOperationTransformer(DescribeBodyAsync);
        });
        services.AddSingleton(sp => new UpstreamService(sp.GetRequiredService<IGatewayStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new RouteService(sp.GetRequiredService<IGatewayStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new PlanService(sp.GetRequiredService<IGatewayStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new UserService(sp.GetRequiredService<IGatewayStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new KeyService(sp.GetRequiredService<IGatewayStore>(), sp.GetRequiredService<TimeProvider>(), options.AuthKeyPrefix));
        services.AddSingleton(sp => new EntitlementService(sp.GetRequiredService<IGatewayStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new PlanEntitlementService(sp.GetRequiredService<IGatewayStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new UsageService(sp.GetRequiredService<IGatewayStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton(sp => new WebhookService(sp.GetRequiredService<IGatewayStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<AdminAuthenticator>();
        services.AddSingleton<AdminAuditLog>();
        services.AddHostedService<AdminTokenStartupCheck>();
        services.AddHostedService<CredentialStorageStartupCheck>();
        return services;
    }

    /// <summary>Serves the admin API under the base path (where: <see cref="AdminListener"/>); must run before the proxy pipeline is added.</summary>
    public static void MapAdminApi(this WebApplication app, GatewayOptions options)
    {
        if (app.Services.GetService<AdminAuthenticator>() is not { } authenticator)
        {
            throw new InvalidOperationException("call services.AddAdminApi(options) before app.MapAdminApi(options)");
        }

        // A builder of its own: endpoint routing stays inside the branch instead of running for every proxied request.
        var admin = new ApplicationBuilder(app.Services);
        admin.Use(app.Services.GetRequiredService<AdminAuditLog>().InvokeAsync); // outermost: sees the final status
        admin.Use(SetResponseHeaders);
        admin.Use(HandleFailuresAsync);
        admin.Use(authenticator.InvokeAsync);
        admin.Use(DescribeMethodNotAllowedAsync);
        admin.Use(RouteHeadAsGet);
        admin.UseRouting();
        admin.Use(AnswerHeadAsHead);
        admin.Use(RefuseUnknownAndRepeatedParameters);
        admin.Use(AdminConditions.RefuseUnsupported);
        admin.UseEndpoints(AdminEndpoints.Map);
        admin.Run(AdminErrors.UnknownPathAsync);
        app.Services.GetRequiredService<AdminListener>().Map(app, admin.Build()); // on the main port or a listener of its own
    }

    /// <summary>Null when the path can be the admin base path; else why not.</summary>
    public static string? ValidateBasePath(string path) => Admin.AdminBasePath.Validate(path);

    private static void Describe(OpenApiDocument document)
    {
        document.Info = new OpenApiInfo
        {
            Title = "APIGate admin API",
            Version = ReservedEndpoints.Version,
            Description = "Manage upstreams, routes, users, plans, API keys, entitlements and usage. Every request needs "
                + "Authorization: Bearer <admin token> (create one with `apigate admin tokens create --name <name>`).",
        };
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes["admin_token"] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            BearerFormat = "agt_ + 64 hex",
            Description = "An admin token created with `apigate admin tokens create --name <name>`. API keys are not accepted.",
        };
        document.Security ??= [];
        document.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference("admin_token", document)] = [] });
    }

    /// <summary>
    /// Request bodies and query parameters are read by the endpoints themselves (the framework's binding would answer
    /// 415 or 400 without an error document), so they are described here from <see cref="AdminRequestBody"/> and
    /// <see cref="AdminQueryParameter"/> metadata.
    /// </summary>
    private static async Task DescribeBodyAsync(OpenApiOperation operation, Microsoft.AspNetCore.OpenApi.OpenApiOperationTransformerContext context, CancellationToken ct)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        foreach (var query in metadata.OfType<AdminQueryParameter>())
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(new OpenApiParameter
            {
                Name = query.Name,
                In = ParameterLocation.Query,
                Required = query.Required,
                Description = query.Description,
                Schema = new OpenApiSchema { Type = query.Integer ? JsonSchemaType.Integer : JsonSchemaType.String },
            });
        }

        if (metadata.OfType<AdminConditional>().FirstOrDefault() is { } conditional)
        {
            operation.Parameters ??= [];
            foreach (var (header, description) in conditional.Read
                         ? new[] { ("If-Match", "answer 412 unless the resource's ETag is one of these (or * for any)"), ("If-None-Match", "answer 304 when the resource's ETag is one of these") }
                         : [("If-Match", "change it only while its ETag is one of these (* for any), else 412 and nothing changed")])
            {
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = header, In = ParameterLocation.Header, Required = false, Description = description,
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                });
            }
        }

        if (metadata.OfType<AdminRequestBody>().FirstOrDefault() is not { } body)
        {
            return;
        }

        var fields = await SharedSchemaAsync(context, body.InputType, ct); // once in components, not four times per operation
        IOpenApiSchema schema = new OpenApiSchema
        {
            AnyOf =
            [
                fields,
                new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    Properties = new Dictionary<string, IOpenApiSchema> { ["data"] = fields },
                    Required = new HashSet<string>(StringComparer.Ordinal) { "data" },
                    AdditionalPropertiesAllowed = false,
                    Description = "The fields wrapped as {\"data\": {...}}.",
                },
            ],
        };
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = true,
            Description = "The fields to set (absent or null = unchanged on update). May also be wrapped as {\"data\": {...}}.",
            Content = new Dictionary<string, OpenApiMediaType>
            {
                [JsonContentType] = new() { Schema = schema },
                ["application/vnd.api+json"] = new() { Schema = schema },
            },
        };

        // What AdminBody answers before the endpoint sees the fields.
        var error = await SharedSchemaAsync(context, typeof(ErrorDocument), ct);
        operation.Responses ??= [];
        foreach (var (status, description) in new[]
                 {
                     ("400", "The body is not a JSON object."),
                     ("413", $"The body is larger than {AdminBody.MaxBytes} bytes (payload_too_large)."),
                     ("415", "The body is not JSON: send Content-Type: application/json (unsupported_media_type)."),
                 })
        {
            if (!operation.Responses.ContainsKey(status))
            {
                operation.Responses[status] = new OpenApiResponse
                {
                    Description = description,
                    Content = new Dictionary<string, OpenApiMediaType> { [JsonContentType] = new() { Schema = error } },
                };
            }
        }
    }

    /// <summary>A reference to the schema of <paramref name="type"/> in the document's components, added there if missing.</summary>
    private static async Task<IOpenApiSchema> SharedSchemaAsync(Microsoft.AspNetCore.OpenApi.OpenApiOperationTransformerContext context, Type type, CancellationToken ct)
    {
        var schema = await context.GetOrCreateSchemaAsync(type, null, ct);
        if (context.Document is not { } document)
        {
            return schema;
        }

        if (document.Components?.Schemas?.ContainsKey(type.Name) != true)
        {
            document.AddComponent(type.Name, schema);
        }

        return new OpenApiSchemaReference(type.Name, document);
    }

    /// <summary>
    /// HEAD is a GET without the body (RFC 9110 §9.3.2): it is routed as GET, so every readable resource answers it with
    /// the GET's status and headers, then answered as HEAD again (<see cref="AnswerHeadAsHead"/>), so the server sends no body.
    /// </summary>
    private static Task RouteHeadAsGet(HttpContext context, RequestDelegate next)
    {
        if (HttpMethods.IsHead(context.Request.Method))
        {
            context.Request.Method = HttpMethods.Get;
            context.Items[HeadRequest] = true;
        }

        return next(context);
    }

    private static Task AnswerHeadAsHead(HttpContext context, RequestDelegate next)
    {
        if (context.Items.ContainsKey(HeadRequest))
        {
            context.Request.Method = HttpMethods.Head;
        }

        return next(context);
    }

    private static readonly object HeadRequest = new();

    /// <summary>
    /// The query parameters an endpoint reads are its <see cref="AdminQueryParameter"/> metadata. Any other one is a 400
    /// naming it and the ones the endpoint reads: a filter the endpoint does not have (<c>?status=suspended</c>,
    /// <c>?filter[plan]=pro</c>, <c>?sort=email</c>) was ignored, so a script acting on "the suspended users" got all of
    /// them. One it reads given more than once is a 400 naming it too: a text parameter was read as its values joined by
    /// commas, so <c>?user=a&amp;user=b</c> looked up the user 'a,b' and <c>DELETE …/identities?subject=a&amp;subject=b</c>
    /// unlinked the subject 'a,b'. Requests that matched no endpoint keep their own answer (404, 405).
    /// </summary>
    private static Task RefuseUnknownAndRepeatedParameters(HttpContext context, RequestDelegate next)
    {
        // Not a RouteEndpoint: no endpoint, or the one routing answers 405 with (it carries no metadata of the ones mapped).
        if (context.GetEndpoint() is not RouteEndpoint endpoint || context.Request.Query.Count == 0)
        {
            return next(context);
        }

        var parameters = endpoint.Metadata.GetOrderedMetadata<AdminQueryParameter>();
        foreach (var (name, values) in context.Request.Query)
        {
            // Read case-insensitively: ?q=a&Q=b is q given twice.
            var parameter = parameters.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
            if (parameter is null)
            {
                var known = parameters.Count == 0 ? "this endpoint takes no query parameters" : "this endpoint reads: " + string.Join(", ", parameters.Select(p => p.Name));
                var spelt = Spellings(context.Request.QueryString, name)[0];
                var shown = spelt.Length > 64 ? spelt[..64] + "…" : spelt;
                var what = name.Length == 0 ? "a query parameter has no name ('?=…'): name it or leave it out" : $"unknown query parameter '{shown}'";
                return AdminErrors.InvalidParameter(shown, $"{what} ({known})").ExecuteAsync(context);
            }

            if (values.Count > 1)
            {
                // Named as the endpoint documents it when given so, else as first given (the collection keeps another spelling).
                var spellings = Spellings(context.Request.QueryString, name);
                var named = spellings.Contains(parameter.Name, StringComparer.Ordinal) ? parameter.Name : spellings[0];
                var ignoreCase = spellings.Distinct(StringComparer.Ordinal).Skip(1).Any() ? " (query parameter names ignore case)" : "";
                return AdminErrors.InvalidParameter(named, $"{named} is given more than once{ignoreCase}: give it once").ExecuteAsync(context);
            }
        }

        return next(context);
    }

    /// <summary>The spellings <paramref name="name"/> is given in, in the order given (decoded, as the query collection keys them; at least <paramref name="name"/> itself).</summary>
    private static List<string> Spellings(QueryString query, string name)
    {
        var spellings = new List<string>();
        foreach (var pair in new Microsoft.AspNetCore.WebUtilities.QueryStringEnumerable(query.Value))
        {
            var given = pair.DecodeName().ToString();
            if (string.Equals(given, name, StringComparison.OrdinalIgnoreCase))
            {
                spellings.Add(given);
            }
        }

        return spellings.Count == 0 ? [name] : spellings;
    }

    /// <summary>Endpoint routing answers a known path with the wrong method by a bare 405; give it an error document.</summary>
    private static async Task DescribeMethodNotAllowedAsync(HttpContext context, RequestDelegate next)
    {
        await next(context);
        if (context.Response.StatusCode == StatusCodes.Status405MethodNotAllowed && !context.Response.HasStarted)
        {
            // Endpoint routing lists the methods mapped; HEAD is routed as GET (RouteHeadAsGet), so it works wherever GET does.
            var allowed = context.Response.Headers.Allow.ToString().Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (allowed.Contains(HttpMethods.Get) && !allowed.Contains(HttpMethods.Head))
            {
                context.Response.Headers.Allow = string.Join(", ", allowed.SelectMany(m => m == HttpMethods.Get ? [m, HttpMethods.Head] : new[] { m }));
            }

            await AdminErrors.Write(StatusCodes.Status405MethodNotAllowed, "method_not_allowed", "Method Not Allowed",
                $"{context.Request.Method} is not allowed here (allowed: {context.Response.Headers.Allow})", null).ExecuteAsync(context);
        }
    }

    /// <summary>
    /// Every admin response describes configuration (or refuses to): never cached by a browser or proxy, and never
    /// content-sniffed into something other than the JSON it is.
    /// </summary>
    private static Task SetResponseHeaders(HttpContext context, RequestDelegate next)
    {
        var headers = context.Response.Headers;
        headers.CacheControl = "no-store";
        headers.XContentTypeOptions = "nosniff";
        return next(context);
    }

    private static async Task HandleFailuresAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (Core.Storage.StoreUnavailableException ex) when (!context.Response.HasStarted)
        {
            // Locked by another process past the busy timeout, or the file is gone: the caller can retry; the message names the store.
            // Nothing was changed (or, a PostgreSQL COMMIT whose answer was lost and could not be confirmed, the message
            // says it may have been), and the audit row would only wait on the same store again: the log line is the record.
            context.Features.Set(AdminAuditLog.StoreRefused.Instance);
            context.Response.Clear();
            await AdminErrors.Write(StatusCodes.Status503ServiceUnavailable, ex is Core.Storage.StoreBusyException ? "store_busy" : "store_unavailable",
                "Service Unavailable", ex.Message, null).ExecuteAsync(context);
        }
        catch (Exception ex) when (ex is not OperationCanceledException && !context.Response.HasStarted)
        {
            context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AdminApi)).LogError(
                new EventId(7002, "AdminRequestFailed"), ex, "Admin API request {Method} {Path} failed", context.Request.Method, AdminAuditLog.LoggedPath(context.Request));
            context.Response.Clear();
            await AdminErrors.Write(StatusCodes.Status500InternalServerError, "internal_error", "Internal Server Error",
                "the request failed; the server log has the details", null).ExecuteAsync(context);
        }
    }
}
