using System.Text.Json;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Cors;

/// <summary><c>routes create|update --cors-*</c> as a user runs them.</summary>
public sealed class CorsCliTests : CliTestBase
{
    [Fact]
    public async Task RoutesCreateUpdate_CorsFlags_StoredAndShownInJson()
    {
        Assert.Equal(0, (await RunAsync("upstreams", "create", "--name", "api", "--url", "http://127.0.0.1:9")).ExitCode);

        var created = await RunAsync("routes", "create", "--name", "web", "--path", "/web/*", "--upstream", "api",
            "--cors-origins", "https://app.example.com,*.example.org", "--cors-methods", "get,put", "--cors-headers", "x-api-key,content-type",
            "--cors-expose-headers", "X-Request-ID", "--cors-credentials", "true", "--cors-max-age", "120");
        var updated = await RunAsync("routes", "update", "web", "--cors-max-age", "60");
        var got = await RunAsync("routes", "get", "web", "--json");
        var text = await RunAsync("routes", "get", "web");

        Assert.Equal(0, created.ExitCode);
        Assert.Equal(0, updated.ExitCode);
        var r = JsonDocument.Parse(got.Output).RootElement;
        Assert.Equal(["https://app.example.com", "https://*.example.org"], r.GetProperty("cors_origins").EnumerateArray().Select(o => o.GetString()));
        Assert.Equal(["GET", "PUT"], r.GetProperty("cors_methods").EnumerateArray().Select(o => o.GetString()));
        Assert.Equal(["x-api-key", "content-type"], r.GetProperty("cors_headers").EnumerateArray().Select(o => o.GetString()));
        Assert.True(r.GetProperty("cors_credentials").GetBoolean());
        Assert.Equal(60, r.GetProperty("cors_max_age").GetInt32());
        Assert.Contains("https://app.example.com,https://*.example.org", text.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RoutesCreate_AnyOriginWithCredentials_RefusedNamingTheField()
    {
        Assert.Equal(0, (await RunAsync("upstreams", "create", "--name", "api", "--url", "http://127.0.0.1:9")).ExitCode);

        var result = await RunAsync("routes", "create", "--name", "web", "--path", "/web/*", "--upstream", "api", "--cors-origins", "*", "--cors-credentials", "true");

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: --cors-credentials:", result.Diagnostics, StringComparison.Ordinal);
        Assert.Contains("(none)", (await RunAsync("routes", "list")).Output);
    }
}
