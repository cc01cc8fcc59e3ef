using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary><c>/admin/openapi.json</c>: generated from the endpoints, behind the same admin token.</summary>
public sealed class AdminOpenApiTests : AdminTestBase
{
    [Fact]
    public async Task OpenApiDocument_HostWithALabelThatIsNotPunycode_400NotAServerFailure()
    {
        // Arrange: the document's servers are made of the request's Host
        var request = $"GET /admin/openapi.json HTTP/1.1\r\nHost: xn--zz.example\r\nAuthorization: Bearer {Token}\r\nConnection: close\r\n\r\n";

        // Act
        var response = await Infrastructure.RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes(request));
        var valid = await Infrastructure.RawHttp.SendAsync(Gateway.Url, System.Text.Encoding.ASCII.GetBytes(request.Replace("xn--zz.example", "xn--bcher-kva.example", StringComparison.Ordinal)));

        // Assert: the client's error, named (before: 500 and an error-level stack trace); a valid punycode Host is served
        Assert.Equal(400, response.Status);
        Assert.Equal("bad_request", JsonDocument.Parse(response.Body).RootElement.GetProperty("errors")[0].GetProperty("code").GetString());
        Assert.Contains("xn--", response.Body, StringComparison.Ordinal);
        Assert.Equal(200, valid.Status);
    }

    [Fact]
    public async Task OpenApiDocument_ListsEveryResourceWithSchemasAndBearerSecurity()
    {
        var response = await GetAsync("/openapi.json");

        Assert.Equal(HttpStatusCode.OK, response.Status);
        var document = response.Json;
        Assert.StartsWith("3.", document.GetProperty("openapi").GetString());
        Assert.EndsWith("/admin", document.GetProperty("servers")[0].GetProperty("url").GetString());
        var paths = document.GetProperty("paths");
        foreach (var path in new[]
                 {
                     "/upstreams", "/upstreams/{id}", "/routes", "/routes/{id}", "/routes/{id}/enable", "/routes/{id}/disable", "/users", "/users/{id}",
                     "/users/{id}/activate", "/users/{id}/deactivate", "/plans", "/plans/{id}", "/plans/{id}/enable", "/plans/{id}/entitlements", "/keys",
                     "/keys/{id}", "/keys/{id}/revoke", "/entitlements", "/entitlements/{id}", "/plan-entitlements", "/plan-entitlements/{id}",
                     "/usage/summary", "/usage/history", "/usage/recent", "/settings", "/audit",
                     "/webhooks", "/webhooks/{id}", "/webhooks/{id}/test", "/webhooks/{id}/deliveries", "/webhooks/deliveries/{id}/redeliver",
                 })
        {
            Assert.True(paths.TryGetProperty(path, out _), $"openapi.json lacks {path}");
        }

        Assert.True(paths.GetProperty("/upstreams/{id}").TryGetProperty("patch", out _));
        Assert.True(paths.GetProperty("/upstreams/{id}").TryGetProperty("put", out _));
        var routeBody = paths.GetProperty("/routes").GetProperty("post").GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        Assert.Equal("#/components/schemas/RouteInput", routeBody.GetProperty("anyOf")[0].GetProperty("$ref").GetString());
        Assert.True(document.GetProperty("components").GetProperty("schemas").GetProperty("RouteInput").GetProperty("properties").TryGetProperty("path_rewrite", out _));
        var created = paths.GetProperty("/keys").GetProperty("post").GetProperty("responses").GetProperty("201");
        Assert.Contains("CreatedKeyDocument", created.GetRawText());

        var keyParameters = paths.GetProperty("/keys").GetProperty("get").GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Equal(["page[number]", "page[size]", "page[after]", "user"], keyParameters);
        var summaryUser = paths.GetProperty("/usage/summary").GetProperty("get").GetProperty("parameters")[0];
        Assert.Equal("user", summaryUser.GetProperty("name").GetString());
        Assert.True(summaryUser.GetProperty("required").GetBoolean());

        var schemas = document.GetProperty("components").GetProperty("schemas");
        var upstream = schemas.EnumerateObject().Single(s => s.Name == "UpstreamDefinition").Value;
        Assert.True(upstream.GetProperty("properties").TryGetProperty("base_url", out _));
        Assert.False(upstream.GetProperty("properties").TryGetProperty("auth_value", out _));
        Assert.True(schemas.TryGetProperty("ErrorDocument", out _));

        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("admin_token");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());
        Assert.Equal(JsonValueKind.Array, document.GetProperty("security")[0].GetProperty("admin_token").ValueKind);
    }

    [Theory]
    [InlineData("post", "/upstreams", """{"name": "Users API", "base_url": "http://users.internal:8080", "timeout_ms": 5000, "auth_type": "bearer", "auth_value": "s3cret"}""")]
    [InlineData("post", "/upstreams", """
        {"name": "Users API LB", "targets": [{"url": "http://10.0.0.1:8080", "weight": 2}, "http://10.0.0.2:8080"], "lb_policy": "least_requests",
         "health_check": {"path": "/healthz", "interval": "5s", "timeout": "2s", "unhealthy_threshold": 2, "passive_cooldown": "30s"}}
        """)]
    [InlineData("post", "/upstreams", """{"data": {"name": "Checked", "url": "http://10.0.0.3:8080", "health_check": {"path": "/healthz", "interval": 7000}}}""")]
    [InlineData("post", "/routes", """{"name": "users", "path_pattern": "/users/*", "methods": ["GET", "POST"], "headers": {"x-tier": "gold", "x-n": 1}, "priority": 5}""")]
    [InlineData("post", "/routes", """{"data": {"name": "users-list", "path": "/list/*", "methods": "GET,POST", "headers": ["x-tier=gold"]}}""")]
    [InlineData("post", "/plans", """{"id": "pro", "name": "Pro", "rate_limit_per_minute": 600, "requests_per_month": 100000}""")]
    [InlineData("post", "/users", """{"email": "ada@example.com", "plan_id": "pro"}""")]
    [InlineData("post", "/keys", """{"user_id": "ada@example.com", "name": "ci", "expires_at": "2099-01-31"}""")]
    [InlineData("post", "/entitlements", """{"name": "max_projects", "value_type": "number", "default_value": 1}""")]
    [InlineData("post", "/webhooks", """{"url": "https://crm.example.com/hooks", "events": ["key.created", "plan.changed"], "description": "crm"}""")]
    [InlineData("post", "/plan-entitlements", """{"plan_id": "pro", "entitlement_id": "max_projects", "value": 10}""")]
    public async Task DocumentedBodies_TheApiAccepts_MatchTheRequestBodySchema(string method, string path, string body)
    {
        var document = await OpenApiAsync();

        var results = Evaluate(document, method, path, body);

        Assert.True(results.IsValid, $"{method} {path} {body} is refused by openapi.json: {Failures(results)}");
        var status = await Seed(path);
        var response = await SendAsync(new HttpMethod(method.ToUpperInvariant()), path, body);
        Assert.True(response.Status is HttpStatusCode.Created or HttpStatusCode.OK, $"the API refused {body} ({status}): {response.Raw}");
    }

    [Theory]
    [InlineData("post", "/routes", """{"name": "users", "path": "/users/*", "priorty": 5}""", "/priorty")]
    [InlineData("post", "/routes", """{"data": {"name": "users", "path": "/users/*", "priorty": 5}}""", "/data/priorty")]
    [InlineData("post", "/upstreams", """{"name": "a", "url": "http://10.0.0.1:8080", "base_url": "http://10.0.0.2:8080"}""", "/base_url")]
    [InlineData("post", "/upstreams", """{"name": "a", "url": "http://10.0.0.1:8080", "health_check": {"every": "5s"}}""", "/health_check/every")]
    [InlineData("post", "/upstreams", """{"name": "a", "targets": [{"url": "http://10.0.0.1:8080", "wieght": 2}]}""", "/targets/0/wieght")]
    [InlineData("post", "/routes", """{"name": "users", "path": "/users/*", "methods": [1, 2]}""", "/methods/0")]
    public async Task BodiesTheApiRefuses_AreRefusedByTheRequestBodySchema(string method, string path, string body, string pointer)
    {
        var document = await OpenApiAsync();

        var results = Evaluate(document, method, path, body);

        Assert.False(results.IsValid, $"{method} {path} {body} matches openapi.json");
        var response = await SendAsync(new HttpMethod(method.ToUpperInvariant()), path, body);
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error");
        Assert.StartsWith(error.GetProperty("source").GetProperty("pointer").GetString()!, pointer, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EveryOperation_Lists400_WhichAnyOfThemAnswersToAQueryParameterItDoesNotRead()
    {
        // Arrange: GET /settings reads no query parameter
        var document = await OpenApiAsync();

        // Act
        var refused = await GetAsync("/settings?verbose=1");

        // Assert
        AssertError(refused, HttpStatusCode.BadRequest, "invalid_parameter", parameter: "verbose");
        var operations = document["paths"]!.AsObject().SelectMany(p => p.Value!.AsObject().Where(o => o.Value is JsonObject op && op.ContainsKey("responses")).Select(o => (Path: p.Key, Method: o.Key, Operation: o.Value!))).ToList();
        Assert.Contains(operations, o => o.Path == "/settings" && o.Method == "get");
        foreach (var (path, method, operation) in operations)
        {
            var response = operation["responses"]?["400"];
            Assert.True(response is not null, $"{method} {path} does not list 400");
            Assert.Contains("ErrorDocument", response.ToJsonString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task OperationsWithBodies_ListTooLargeUnsupportedMediaTypeAndBadRequest()
    {
        var document = await OpenApiAsync();

        var paths = document["paths"]!.AsObject();
        var withBodies = paths.SelectMany(p => p.Value!.AsObject().Where(o => o.Value is JsonObject op && op.ContainsKey("requestBody")).Select(o => (Path: p.Key, Method: o.Key, Operation: o.Value!))).ToList();
        Assert.Contains(withBodies, o => o.Path == "/upstreams/{id}" && o.Method == "patch");
        Assert.True(withBodies.Count >= 14, $"only {withBodies.Count} operations with bodies");
        foreach (var (path, method, operation) in withBodies)
        {
            foreach (var status in new[] { "400", "413", "415" })
            {
                var response = operation["responses"]?[status];
                Assert.True(response is not null, $"{method} {path} does not list {status}");
                Assert.Contains("ErrorDocument", response.ToJsonString(), StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task Synonyms_AreDescribedAsSuchInTheInputSchema()
    {
        var document = await OpenApiAsync();

        var upstream = InputSchema(document, "post", "/upstreams");
        var properties = upstream["properties"]!.AsObject();
        Assert.Contains("Synonym of url", properties["base_url"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("Synonym of timeout", properties["timeout_ms"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(upstream["additionalProperties"]!.GetValue<bool>());
    }

    /// <summary>Creates what a body names (the plan, user and entitlement the identity examples refer to).</summary>
    private async Task<string> Seed(string path)
    {
        async Task Create(string collection, string body)
        {
            var response = await SendAsync(HttpMethod.Post, collection, body);
            Assert.True(response.Status is HttpStatusCode.Created or HttpStatusCode.Conflict, response.Raw);
        }

        if (path is "/users" or "/keys" or "/plan-entitlements")
        {
            await Create("/plans", """{"id": "pro", "name": "Pro"}""");
        }

        if (path == "/keys")
        {
            await Create("/users", """{"email": "ada@example.com", "plan": "pro"}""");
        }

        if (path == "/plan-entitlements")
        {
            await Create("/entitlements", """{"name": "max_projects", "value_type": "number", "default_value": "1"}""");
        }

        return path;
    }

    private async Task<JsonObject> OpenApiAsync()
    {
        var response = await GetAsync("/openapi.json");
        Assert.Equal(HttpStatusCode.OK, response.Status);
        return JsonNode.Parse(response.Raw)!.AsObject();
    }

    /// <summary>The schema of the fields (not the {"data": ...} wrapper) of an operation's JSON body, with references followed.</summary>
    private static JsonObject InputSchema(JsonObject document, string method, string path)
    {
        var body = document["paths"]![path]![method]!["requestBody"]!["content"]!["application/json"]!["schema"]!;
        var fields = body["anyOf"]?[0] ?? body;
        return Resolve(document, fields);
    }

    private static JsonObject Resolve(JsonObject document, JsonNode schema) =>
        schema["$ref"]?.GetValue<string>() is { } reference
            ? document["components"]!["schemas"]![reference["#/components/schemas/".Length..]]!.AsObject()
            : schema.AsObject();

    /// <summary>
    /// Checks a body against the operation's request-body schema as a Draft 2020-12 validator would (the schema with
    /// the document's component schemas as <c>$defs</c>, references rewritten to point at them).
    /// </summary>
    private static EvaluationResults Evaluate(JsonObject document, string method, string path, string body)
    {
        var text = document.ToJsonString().Replace("\"#/components/schemas/", "\"#/$defs/", StringComparison.Ordinal);
        var rewritten = JsonNode.Parse(text)!;
        var schema = rewritten["paths"]![path]![method]!["requestBody"]!["content"]!["application/json"]!["schema"]!.DeepClone().AsObject();
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema";
        schema["$defs"] = rewritten["components"]!["schemas"]!.DeepClone();
        var built = JsonSchema.FromText(schema.ToJsonString(), new BuildOptions { SchemaRegistry = new SchemaRegistry() }, new Uri("https://apigate.test/schema/" + Guid.NewGuid().ToString("N")));
        using var instance = JsonDocument.Parse(body);
        return built.Evaluate(instance.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
    }

    private static string Failures(EvaluationResults results) =>
        string.Join("; ", (results.Details ?? []).Where(d => d.Errors is { Count: > 0 }).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} {d.EvaluationPath}: {e.Value}")));
}
