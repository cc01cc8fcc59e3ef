using System.Net;
using System.Text.Json;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary><c>/admin/openapi.json</c>: generated from the endpoints, behind the same admin token.</summary>
public sealed class AdminOpenApiTests : AdminTestBase
{
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
                     "/usage/summary", "/usage/history", "/usage/recent", "/settings",
                 })
        {
            Assert.True(paths.TryGetProperty(path, out _), $"openapi.json lacks {path}");
        }

        Assert.True(paths.GetProperty("/upstreams/{id}").TryGetProperty("patch", out _));
        Assert.True(paths.GetProperty("/upstreams/{id}").TryGetProperty("put", out _));
        var routeBody = paths.GetProperty("/routes").GetProperty("post").GetProperty("requestBody").GetProperty("content").GetProperty("application/json").GetProperty("schema");
        Assert.True(routeBody.GetProperty("properties").TryGetProperty("path_rewrite", out _));
        var created = paths.GetProperty("/keys").GetProperty("post").GetProperty("responses").GetProperty("201");
        Assert.Contains("CreatedKeyDocument", created.GetRawText());

        var keyParameters = paths.GetProperty("/keys").GetProperty("get").GetProperty("parameters").EnumerateArray().Select(p => p.GetProperty("name").GetString()).ToList();
        Assert.Equal(["page[number]", "page[size]", "user"], keyParameters);
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
}
