using System.Globalization;
using System.Net;
using System.Text.Json;
using ApiGate.Core.Routing;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// A route stored with more list entries than a write may hold (100: CORS origins, required headers, transform
/// operations), as one written before the bound may be: it can still be changed — its other fields, its lists shortened
/// step by step, its transform sent back unchanged — and only a change that grows a list, or a new transform past the
/// bound, is refused.
/// </summary>
public sealed class RouteListBoundTests : AdminTestBase
{
    private static readonly CancellationToken None = CancellationToken.None;

    private static string[] Origins(int count) =>
        [.. Enumerable.Range(0, count).Select(i => string.Create(CultureInfo.InvariantCulture, $"https://app{i}.example.com"))];

    /// <summary>
    /// Route "wide" written straight to the store with 150 CORS origins, 120 required headers and a request transform
    /// adding 150 headers.
    /// </summary>
    private async Task StoreAWideRouteAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        var backend = (await Gateway.Store.FindUpstreamAsync("backend", None))!;
        await Gateway.Store.CreateRouteAsync(new RouteDefinition
        {
            Id = "rt_wide", Name = "wide", Slug = "wide", PathPattern = "/wide/*", UpstreamId = backend.Id,
            CorsOrigins = Origins(150),
            Headers = Enumerable.Range(0, 120).ToDictionary(i => string.Create(CultureInfo.InvariantCulture, $"X-Need-{i}"), _ => "1", StringComparer.OrdinalIgnoreCase),
            RequestTransform = WideTransform(150),
            CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
        }, None);
    }

    private static string WideTransform(int adds) => JsonSerializer.Serialize(new
    {
        headers = new { add = Enumerable.Range(0, adds).ToDictionary(i => string.Create(CultureInfo.InvariantCulture, $"X-Add-{i}"), _ => "1") },
    });

    [Fact]
    public async Task RouteStoredWithListsPastTheBound_OtherFieldChanged_Accepted()
    {
        // Arrange
        await StoreAWideRouteAsync();

        // Act
        var described = await PatchAsync("/routes/wide", new { description = "kept as it is" });

        // Assert
        AssertData(described);
        var stored = (await Gateway.Store.FindRouteAsync("wide", None))!;
        Assert.Equal(("kept as it is", 150, 120, WideTransform(150)), (stored.Description, stored.CorsOrigins.Count, stored.Headers.Count, stored.RequestTransform));
    }

    [Fact]
    public async Task RouteStoredWithListsPastTheBound_ShortenedButStillPast_Accepted_GrownRefused422()
    {
        // Arrange
        await StoreAWideRouteAsync();

        // Act
        var shortened = await PatchAsync("/routes/wide", new { cors_origins = Origins(149) });
        var grown = await PatchAsync("/routes/wide", new { cors_origins = Origins(150) });

        // Assert
        AssertData(shortened);
        var error = AssertError(grown, HttpStatusCode.UnprocessableEntity, "validation_error", "/cors_origins");
        Assert.Equal("has 150 entries; at most 100 are allowed", error.GetProperty("detail").GetString());
        Assert.Equal(149, (await Gateway.Store.FindRouteAsync("wide", None))!.CorsOrigins.Count);
    }

    [Fact]
    public async Task RouteStoredWithATransformPastTheBound_TransformChangedStillPast_Refused422_BroughtWithin_Accepted()
    {
        // Arrange
        await StoreAWideRouteAsync();

        // Act
        var changed = await PatchAsync("/routes/wide", new { request_transform = WideTransform(149) });
        var within = await PatchAsync("/routes/wide", new { request_transform = WideTransform(100) });

        // Assert
        var error = AssertError(changed, HttpStatusCode.UnprocessableEntity, "validation_error", "/request_transform");
        Assert.Equal("request_transform.headers has 149 operations; at most 100 are allowed", error.GetProperty("detail").GetString());
        AssertData(within);
        Assert.Equal(WideTransform(100), (await Gateway.Store.FindRouteAsync("wide", None))!.RequestTransform);
    }

    [Fact]
    public async Task NewRoute_ListsPastTheBound_Refused422()
    {
        // Arrange
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);

        // Act
        var origins = await PostAsync("/routes", new { name = "new", path = "/new/*", upstream = "backend", cors_origins = Origins(101) });
        var transform = await PostAsync("/routes", new { name = "new", path = "/new/*", upstream = "backend", request_transform = WideTransform(101) });

        // Assert
        Assert.Equal("has 101 entries; at most 100 are allowed",
            AssertError(origins, HttpStatusCode.UnprocessableEntity, "validation_error", "/cors_origins").GetProperty("detail").GetString());
        Assert.Equal("request_transform.headers has 101 operations; at most 100 are allowed",
            AssertError(transform, HttpStatusCode.UnprocessableEntity, "validation_error", "/request_transform").GetProperty("detail").GetString());
        Assert.Null(await Gateway.Store.FindRouteAsync("new", None));
    }

    [Fact]
    public async Task NewRoute_MethodsPastTheBoundAsSent_Refused422EvenWhenAllTheSame()
    {
        // Arrange
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        var gets = Enumerable.Repeat("GET", 101).ToArray();

        // Act
        var methods = await PostAsync("/routes", new { name = "new", path = "/new/*", upstream = "backend", methods = gets });
        var corsMethods = await PostAsync("/routes", new { name = "new", path = "/new/*", upstream = "backend", cors_origins = Origins(1), cors_methods = gets });

        // Assert
        Assert.Equal("has 101 entries; at most 100 are allowed",
            AssertError(methods, HttpStatusCode.UnprocessableEntity, "validation_error", "/methods").GetProperty("detail").GetString());
        Assert.Equal("has 101 entries; at most 100 are allowed",
            AssertError(corsMethods, HttpStatusCode.UnprocessableEntity, "validation_error", "/cors_methods").GetProperty("detail").GetString());
        Assert.Null(await Gateway.Store.FindRouteAsync("new", None));
    }
}
