using System.Net;
using ApiGate.Core.Management;
using ApiGate.Core.Routing;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// A route stored with two header conditions whose names differ only in case (X-Tier=gold and x-tier=silver: a request
/// must carry both values), as a store written by an earlier build or by hand may hold: the conditions sent back
/// unchanged are kept, so its other fields can be changed, and one of them can be dropped; a write that adds such a
/// condition is refused.
/// </summary>
public sealed class RouteHeaderNameCaseTests : AdminTestBase
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>Route "tiered" written straight to the store with X-Tier=gold and x-tier=silver.</summary>
    private async Task StoreATieredRouteAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        var backend = (await Gateway.Store.FindUpstreamAsync("backend", None))!;
        await Gateway.Store.CreateRouteAsync(new RouteDefinition
        {
            Id = "rt_tiered", Name = "tiered", Slug = "tiered", PathPattern = "/tiered/*", UpstreamId = backend.Id,
            Headers = new Dictionary<string, string>(StringComparer.Ordinal) { ["X-Tier"] = "gold", ["x-tier"] = "silver" },
            CreatedAt = DateTimeOffset.UtcNow, UpdatedAt = DateTimeOffset.UtcNow,
        }, None);
    }

    private static RouteChanges Changes(RouteInput input)
    {
        var changes = input.ToChanges();
        Assert.True(changes.Ok, changes.Error?.ToString());
        return changes.Value!;
    }

    [Fact]
    public async Task UpdateAsync_ConditionsSentBackUnchangedWithAnotherField_StoredWithBothConditions()
    {
        // Arrange
        await StoreATieredRouteAsync();

        // Act
        var saved = await Gateway.Routes.UpdateAsync("tiered", Changes(new RouteInput { Description = "edited", Headers = ["X-Tier=gold", "x-tier=silver"] }), None);

        // Assert
        Assert.True(saved.Ok, saved.Error?.ToString());
        var stored = (await Gateway.Store.FindRouteAsync("tiered", None))!;
        Assert.Equal("edited", stored.Description);
        Assert.Equal([("X-Tier", "gold"), ("x-tier", "silver")], stored.Headers.Select(h => (h.Key, h.Value)).Order());
    }

    [Fact]
    public async Task UpdateAsync_OneOfTheConditionsChanged_RefusedNamingHeaders()
    {
        // Arrange
        await StoreATieredRouteAsync();

        // Act
        var refused = await Gateway.Routes.UpdateAsync("tiered", Changes(new RouteInput { Description = "edited", Headers = ["X-Tier=gold", "x-tier=bronze"] }), None);

        // Assert
        Assert.Equal(("headers", "header 'x-tier' is given twice (header names ignore case)"), (refused.Error!.Field, refused.Error.Message));
        Assert.Equal("", (await Gateway.Store.FindRouteAsync("tiered", None))!.Description);
    }

    [Fact]
    public async Task PatchRoute_OneOfTheConditionsDropped_Accepted()
    {
        // Arrange
        await StoreATieredRouteAsync();

        // Act
        var response = await PatchAsync("/routes/tiered", new { headers = new[] { "x-tier=silver" } });

        // Assert
        AssertData(response);
        Assert.Equal([("x-tier", "silver")], (await Gateway.Store.FindRouteAsync("tiered", None))!.Headers.Select(h => (h.Key, h.Value)));
    }

    [Fact]
    public async Task PatchRoute_ConditionsAsReadFromTheApiSentBack_Accepted()
    {
        // Arrange
        await StoreATieredRouteAsync();
        var read = AssertData(await GetAsync("/routes/tiered")).GetProperty("headers");

        // Act
        var response = await SendAsync(HttpMethod.Patch, "/routes/tiered", $$"""{"description": "edited", "headers": {{read.GetRawText()}}}""");

        // Assert
        AssertData(response);
        Assert.Equal([("X-Tier", "gold"), ("x-tier", "silver")], (await Gateway.Store.FindRouteAsync("tiered", None))!.Headers.Select(h => (h.Key, h.Value)).Order());
    }

    [Fact]
    public async Task CliRoutesUpdate_ConditionsSentBackUnchangedWithAnotherField_ExitsZeroAndStoresBoth()
    {
        // Arrange
        await StoreATieredRouteAsync();

        // Act
        var result = await Gateway.CliAsync("routes", "update", "tiered", "--description", "edited", "--headers", "X-Tier=gold", "--headers", "x-tier=silver");

        // Assert
        Assert.True(result.ExitCode == 0, result.Diagnostics);
        var stored = (await Gateway.Store.FindRouteAsync("tiered", None))!;
        Assert.Equal("edited", stored.Description);
        Assert.Equal([("X-Tier", "gold"), ("x-tier", "silver")], stored.Headers.Select(h => (h.Key, h.Value)).Order());
    }

    [Fact]
    public async Task CreateRoute_TwoSpellingsOfAHeader_Refused422()
    {
        // Arrange
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);

        // Act
        var response = await PostAsync("/routes", new { name = "new", path = "/new/*", upstream = "backend", headers = new[] { "X-Tier=gold", "x-tier=silver" } });

        // Assert
        Assert.Equal("header 'x-tier' is given twice (header names ignore case)",
            AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/headers").GetProperty("detail").GetString());
        Assert.Null(await Gateway.Store.FindRouteAsync("new", None));
    }
}
