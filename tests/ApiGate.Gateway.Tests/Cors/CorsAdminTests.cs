using System.Net;
using ApiGate.Gateway.Tests.Admin;

namespace ApiGate.Gateway.Tests.Cors;

/// <summary>A route's CORS fields through the admin API: written, read back canonical, refused with the field named.</summary>
public sealed class CorsAdminTests : AdminTestBase
{
    [Fact]
    public async Task CreateRoute_CorsFields_ReadBackCanonicalAndClearedByEmptyOrigins()
    {
        // Arrange
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });

        // Act
        var created = AdminTestBase.AssertData(await PostAsync("/routes", new
        {
            name = "web", path = "/web/*", upstream = "backend",
            cors_origins = new[] { "HTTPS://App.Example.com:443/", "*.example.org", "http://127.0.0.1:5173" },
            cors_methods = "get,post", cors_headers = new[] { "X-API-Key", "Content-Type" }, cors_expose_headers = "X-Request-ID",
            cors_credentials = true, cors_max_age = 300,
        }), HttpStatusCode.Created);
        var cleared = AdminTestBase.AssertData(await PatchAsync("/routes/web", new { cors_origins = "" }));

        // Assert
        Assert.Equal(["https://app.example.com", "https://*.example.org", "http://127.0.0.1:5173"], created.GetProperty("cors_origins").EnumerateArray().Select(o => o.GetString()));
        Assert.Equal(["GET", "POST"], created.GetProperty("cors_methods").EnumerateArray().Select(o => o.GetString()));
        Assert.Equal(["X-API-Key", "Content-Type"], created.GetProperty("cors_headers").EnumerateArray().Select(o => o.GetString()));
        Assert.Equal(["X-Request-ID"], created.GetProperty("cors_expose_headers").EnumerateArray().Select(o => o.GetString()));
        Assert.True(created.GetProperty("cors_credentials").GetBoolean());
        Assert.Equal(300, created.GetProperty("cors_max_age").GetInt32());
        Assert.Equal(0, cleared.GetProperty("cors_origins").GetArrayLength());
        Assert.Equal(0, cleared.GetProperty("cors_methods").GetArrayLength());
        Assert.False(cleared.GetProperty("cors_credentials").GetBoolean());
        Assert.Equal(0, cleared.GetProperty("cors_max_age").GetInt32());
    }

    [Theory]
    [InlineData("/cors_origins", "app.example.com", false, 0)]
    [InlineData("/cors_origins", "https://app.example.com/path", false, 0)]
    [InlineData("/cors_origins", "https://*", false, 0)]
    [InlineData("/cors_origins", "https://api.*.example.com", false, 0)]
    [InlineData("/cors_origins", "*.com", false, 0)]
    [InlineData("/cors_origins", "https://app.example.com:99999", false, 0)]
    [InlineData("/cors_origins", "https://[::1", false, 0)]
    [InlineData("/cors_origins", "https://*.10.0.0.1", false, 0)]
    [InlineData("/cors_credentials", "*", true, 0)]
    [InlineData("/cors_max_age", "https://app.example.com", false, 86_401)]
    [InlineData("/cors_max_age", "https://app.example.com", false, -1)]
    public async Task CreateRoute_InvalidCors_422NamingTheField(string pointer, string origins, bool credentials, int maxAge)
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });

        var response = await PostAsync("/routes", new { name = "web", path = "/web/*", upstream = "backend", cors_origins = origins, cors_credentials = credentials, cors_max_age = maxAge });

        AdminTestBase.AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/routes/web")).Status);
    }

    [Theory]
    [InlineData("/cors_methods", "cors_methods", "GETT")]
    [InlineData("/cors_headers", "cors_headers", "X Bad")]
    [InlineData("/cors_expose_headers", "cors_expose_headers", "*")]
    public async Task CreateRoute_InvalidCorsList_422NamingTheField(string pointer, string field, string value)
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });
        var body = new Dictionary<string, object> { ["name"] = "web", ["path"] = "/web/*", ["upstream"] = "backend", ["cors_origins"] = "https://app.example.com", [field] = value };

        var response = await PostAsync("/routes", body);

        AdminTestBase.AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer);
    }

    [Theory]
    [InlineData("cors_origins")]
    [InlineData("cors_headers")]
    [InlineData("cors_expose_headers")]
    [InlineData("headers")]
    public async Task CreateRoute_ListOfThousandsOfEntries_422NamingTheFieldAndTheLimit(string field)
    {
        // Arrange: 20,000 distinct entries fit in the 1 MiB body; every one was stored, and each request was checked
        // against them all or carried them all in a CORS response header.
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });
        var entries = Enumerable.Range(0, 20_000).Select(i => field switch
        {
            "cors_origins" => $"https://a{i}.example.com",
            "headers" => $"X-H{i}=1",
            _ => $"X-H{i}",
        }).ToArray();
        var body = new Dictionary<string, object> { ["name"] = "web", ["path"] = "/web/*", ["upstream"] = "backend", ["cors_origins"] = "https://app.example.com", [field] = entries };

        // Act
        var response = await PostAsync("/routes", body);

        // Assert
        var error = AdminTestBase.AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/" + field);
        Assert.Equal("has 20000 entries; at most 100 are allowed", error.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync("/routes/web")).Status);
    }

    [Fact]
    public async Task CreateRoute_HundredEntriesNamingFiftyOriginsTwice_AcceptedAndStoredOnceEach()
    {
        // Arrange: the limit's 100 entries, 50 origins once canonical.
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });
        var origins = Enumerable.Range(0, 50).SelectMany(i => new[] { $"https://a{i}.example.com", $"HTTPS://A{i}.example.com:443/" }).ToArray();

        // Act
        var created = AdminTestBase.AssertData(await PostAsync("/routes", new { name = "web", path = "/web/*", upstream = "backend", cors_origins = origins }), HttpStatusCode.Created);

        // Assert
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"https://a{i}.example.com"), created.GetProperty("cors_origins").EnumerateArray().Select(o => o.GetString()));
    }

    [Fact]
    public async Task CreateRoute_CorsSettingsWithoutOrigins_422OnOrigins()
    {
        await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url });

        var response = await PostAsync("/routes", new { name = "web", path = "/web/*", upstream = "backend", cors_credentials = true });

        AdminTestBase.AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/cors_origins");
    }
}
