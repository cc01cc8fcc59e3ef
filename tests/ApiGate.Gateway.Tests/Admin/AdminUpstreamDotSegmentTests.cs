using System.Net;
using ApiGate.Core.Management;
using ApiGate.Core.Upstreams;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// A target URL whose path holds a dot segment is refused when written (the URL parser would resolve it, so requests
/// would not go where the URL says); one stored by an older build is still served as it was (docs/load-balancing.md).
/// </summary>
public sealed class AdminUpstreamDotSegmentTests : AdminTestBase
{
    private const string Problem = "('%2e' counts as '.'), so requests would not go to the path as written: write the path without '.' or '..' segments";

    [Theory]
    [InlineData("/v2/../x", "..")]
    [InlineData("/v2/./x", ".")]
    [InlineData("/v2/%2e%2e/x", "%2e%2e")]
    public async Task Create_UrlOrTargetWithADotSegment_Returns422PointingAtTheUrlAndWritesNothing(string path, string segment)
    {
        // Act
        var byUrl = await PostAsync("/upstreams", new { name = "dotted", url = Upstream.Url + path });
        var targets = new { name = "dotted", targets = new[] { new { url = Upstream.Url }, new { url = Upstream.Url + path } } };
        var byTargets = await PostAsync("/upstreams", targets);
        var wrapped = await PostAsync("/upstreams", new { data = targets });

        // Assert
        var urlError = AssertError(byUrl, HttpStatusCode.UnprocessableEntity, "validation_error", "/url");
        Assert.Equal($"its path holds the dot segment '{segment}' {Problem}", urlError.GetProperty("detail").GetString());
        var targetsError = AssertError(byTargets, HttpStatusCode.UnprocessableEntity, "validation_error", "/targets/1/url");
        Assert.Equal($"targets[1].url: its path holds the dot segment '{segment}' {Problem}", targetsError.GetProperty("detail").GetString());
        AssertError(wrapped, HttpStatusCode.UnprocessableEntity, "validation_error", "/data/targets/1/url");
        AssertError(await GetAsync("/upstreams/dotted"), HttpStatusCode.NotFound, "not_found");
    }

    [Theory]
    [InlineData("--url", "error: --url: its path holds the dot segment '..' ")]
    [InlineData("--target", "error: --target: targets[0].url: its path holds the dot segment '..' ")]
    public async Task CliCreate_UrlWithADotSegment_Exit2NamingTheFlag_NothingStored(string flag, string message)
    {
        // Act
        var result = await Gateway.CliAsync("upstreams", "create", "--name", "dotted", flag, Upstream.Url + "/v2/../x");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(message + Problem, result.Diagnostics.Trim());
        Assert.Null(await Gateway.Store.FindUpstreamAsync("dotted", CancellationToken.None));
    }

    [Fact]
    public async Task Update_TargetToADotSegment_Returns422AndKeepsTheStoredTarget()
    {
        // Arrange
        AssertData(await PostAsync("/upstreams", new { name = "plain", url = Upstream.Url + "/v2" }), HttpStatusCode.Created);

        // Act
        var response = await PatchAsync("/upstreams/plain", new { url = Upstream.Url + "/v2/../admin" });

        // Assert
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/url");
        Assert.Equal($"its path holds the dot segment '..' {Problem}", error.GetProperty("detail").GetString());
        Assert.Equal(Upstream.Url + "/v2", AssertData(await GetAsync("/upstreams/plain")).GetProperty("base_url").GetString());
    }

    [Fact]
    public async Task StoredByAnOlderBuild_TargetWithADotSegment_StillLoadedAndProxiedAsBefore()
    {
        // Arrange: rows written before the rule, straight into the store
        var now = DateTimeOffset.UtcNow;
        foreach (var (slug, url) in new[] { ("literal", Upstream.Url + "/v2/../x"), ("encoded", Upstream.Url + "/v2/%2e%2e/y") })
        {
            await Gateway.Store.CreateUpstreamAsync(
                new UpstreamDefinition { Id = "up_" + slug, Name = slug, Slug = slug, BaseUrl = url, Targets = [new UpstreamTarget(url)], CreatedAt = now, UpdatedAt = now },
                CancellationToken.None);
        }

        await Gateway.AddRouteAsync(new RouteInput { Name = "literal", Path = "/literal/*", Upstream = "literal" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "encoded", Path = "/encoded/*", Upstream = "encoded" });

        // Act
        var literal = await RawHttp.GetAsync(Gateway.Url, "/literal/users");
        var literalSeen = Upstream.Received.Last();
        var encoded = await RawHttp.GetAsync(Gateway.Url, "/encoded/users");
        var encodedSeen = Upstream.Received.Last();

        // Assert: served as the URL parser reads the stored URL (both spellings resolved), as before the rule
        Assert.Equal(200, literal.Status);
        Assert.Equal("/x/literal/users", literalSeen.RawTarget);
        Assert.Equal(200, encoded.Status);
        Assert.Equal("/y/encoded/users", encodedSeen.RawTarget);
    }
}
