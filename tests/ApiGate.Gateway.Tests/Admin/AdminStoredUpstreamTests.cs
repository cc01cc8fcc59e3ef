using System.Net;
using ApiGate.Core.Management;
using ApiGate.Core.Upstreams;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// An upstream saved by an older build with a value a newer rule refuses (a <c>health_check.path</c> past 2,048 bytes, a target URL with a dot segment)
/// is still served; a change that leaves the value as it is gets an error naming the stored field and how to fix it,
/// and a change that fixes it in the same request is saved (docs/load-balancing.md).
/// </summary>
public sealed class AdminStoredUpstreamTests : AdminTestBase
{
    private static readonly string LongPath = "/" + new string('a', 2100);

    private protected override async Task SetUpAsync()
    {
        await base.SetUpAsync();
        // Written straight into the store, as the older build did: no write through the service accepts it today.
        var now = DateTimeOffset.UtcNow;
        await Gateway.Store.CreateUpstreamAsync(new UpstreamDefinition
        {
            Id = "up_legacy",
            Name = "legacy",
            Slug = "legacy",
            BaseUrl = Upstream.Url,
            Targets = [new UpstreamTarget(Upstream.Url)],
            HealthCheck = HealthCheckSettings.Default with { Path = LongPath },
            CreatedAt = now,
            UpdatedAt = now,
        }, CancellationToken.None);
        await Gateway.AddRouteAsync(new RouteInput { Name = "legacy", Path = "/legacy/*", Upstream = "legacy" });
    }

    [Fact]
    public async Task StoredHealthPathPastTheLimit_GatewayServesTheUpstream()
    {
        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/legacy/users");

        // Assert
        Assert.Equal(200, response.Status);
        Assert.Equal("/legacy/users", Upstream.Received.Last(r => r.Path.StartsWith("/legacy", StringComparison.Ordinal)).Path);
    }

    [Fact]
    public async Task Patch_OnlyAWeight_Returns422NamingTheStoredFieldAndHowToFixIt()
    {
        // Act
        var response = await PatchAsync("/upstreams/legacy", new { targets = new[] { new { url = Upstream.Url, weight = 5 } } });

        // Assert
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/health_check/path");
        Assert.Equal(
            "health_check.path as stored: is longer than 2048 bytes (saved before this rule). Every change to this upstream is refused until it is fixed: "
            + "send health_check.path in the same change (CLI --health-path), e.g. /healthz, or none to turn active checks off.",
            error.GetProperty("detail").GetString());
        var stored = AssertData(await GetAsync("/upstreams/legacy"));
        Assert.Equal(1, stored.GetProperty("targets")[0].GetProperty("weight").GetInt32());
        Assert.Equal(LongPath, stored.GetProperty("health_check").GetProperty("path").GetString());
    }

    [Fact]
    public async Task Patch_WeightAndANewHealthPath_Saved()
    {
        // Act
        var response = await PatchAsync("/upstreams/legacy", new
        {
            targets = new[] { new { url = Upstream.Url, weight = 5 } },
            health_check = new { path = "/healthz" },
        });

        // Assert
        var saved = AssertData(response);
        Assert.Equal(5, saved.GetProperty("targets")[0].GetProperty("weight").GetInt32());
        Assert.Equal("/healthz", saved.GetProperty("health_check").GetProperty("path").GetString());
    }

    [Fact]
    public async Task Patch_ANewHealthPathStillTooLong_RefusedAsTheChangesOwnError()
    {
        // Act: the value sent breaks the rule itself, so the error is about the request, not the stored row
        var response = await PatchAsync("/upstreams/legacy", new { health_check = new { path = "/" + new string('b', 2100) } });

        // Assert
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/health_check/path");
        Assert.Equal("is longer than 2048 bytes", error.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task UpdateThroughTheService_OnlyAName_RefusedNamingTheStoredField()
    {
        // Act: the CLI's way in
        var result = await Gateway.Upstreams.UpdateAsync("legacy", new UpstreamChanges { Name = "legacy two" }, CancellationToken.None);

        // Assert
        Assert.Equal((ManagementErrorKind.Validation, "health_check.path"), (result.Error?.Kind, result.Error?.Field));
        Assert.StartsWith("health_check.path as stored: is longer than 2048 bytes (saved before this rule).", result.Error!.Message, StringComparison.Ordinal);
        Assert.Equal("legacy", (await Gateway.Store.FindUpstreamAsync("up_legacy", CancellationToken.None))!.Name);
    }

    private const string DotSegmentRule = "its path holds the dot segment '..' ('%2e' counts as '.'), so requests would not go to the path as written: "
        + "write the path without '.' or '..' segments";

    [Fact]
    public async Task Patch_UpstreamStoredWithADotSegmentOnlyAName_Returns422PointingAtTheStoredTargetsUrl()
    {
        // Arrange: its second target as a build before the rule stored it
        var now = DateTimeOffset.UtcNow;
        await Gateway.Store.CreateUpstreamAsync(new UpstreamDefinition
        {
            Id = "up_dotted",
            Name = "dotted",
            Slug = "dotted",
            BaseUrl = Upstream.Url,
            Targets = [new UpstreamTarget(Upstream.Url), new UpstreamTarget("http://127.0.0.1:1/v2/../x")],
            CreatedAt = now,
            UpdatedAt = now,
        }, CancellationToken.None);

        // Act
        var response = await PatchAsync("/upstreams/dotted", new { name = "dotted two" });

        // Assert: told as the stored row's, at the target's own pointer
        var error = AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/targets/1/url");
        Assert.Equal(
            $"targets[1].url as stored: {DotSegmentRule} (saved before this rule). Every change to this upstream is refused until it is fixed: "
            + "send url or targets in the same change (CLI --url or --targets) with every target URL valid.",
            error.GetProperty("detail").GetString());
        Assert.Equal("dotted", (await Gateway.Store.FindUpstreamAsync("up_dotted", CancellationToken.None))!.Name);
    }
}
