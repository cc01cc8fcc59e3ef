using ApiGate.Core.Routing;
using ApiGate.Core.Tests.TestSupport;
using static ApiGate.Core.Tests.TestSupport.TestRoutes;

namespace ApiGate.Core.Tests.Routing;

/// <summary>SPEC §2: methods (empty = all, case-insensitive) and header conditions (all must match).</summary>
public sealed class MethodAndHeaderMatchingTests
{
    [Theory]
    [InlineData("", "GET", true)]
    [InlineData("", "DELETE", true)]
    [InlineData("", "PROPFIND", true)]
    [InlineData("GET", "GET", true)]
    [InlineData("GET", "get", true)]
    [InlineData("get", "GET", true)]
    [InlineData("GET,POST", "POST", true)]
    [InlineData("GET,POST", "post", true)]
    [InlineData("GET,POST", "PUT", false)]
    [InlineData("GET", "HEAD", false)]
    [InlineData("POST", "POSTS", false)]
    public void TryMatch_Methods_EmptyMeansAllAndCaseInsensitive(string methods, string requestMethod, bool expected)
    {
        // Arrange
        var route = Route("r", "/") with { Methods = methods.Split(',', StringSplitOptions.RemoveEmptyEntries) };
        var table = Table(route);

        // Act
        var matched = table.TryMatch(null, requestMethod, "/x", FakeHeaders.None, out _);

        // Assert
        Assert.Equal(expected, matched);
    }

    [Theory]
    [InlineData("", "", true)]
    [InlineData("", "X-Tenant=acme", true)]
    [InlineData("X-Tenant=acme", "X-Tenant=acme", true)]
    [InlineData("X-Tenant=acme", "x-tenant=acme", true)]
    [InlineData("x-tenant=acme", "X-TENANT=acme", true)]
    [InlineData("X-Tenant=acme", "X-Tenant=ACME", false)]
    [InlineData("X-Tenant=acme", "X-Tenant=other", false)]
    [InlineData("X-Tenant=acme", "X-Other=acme", false)]
    [InlineData("X-Tenant=acme", "", false)]
    [InlineData("X-Tenant=acme;X-Version=2", "X-Tenant=acme", false)]
    [InlineData("X-Tenant=acme;X-Version=2", "X-Tenant=acme;X-Version=1", false)]
    [InlineData("X-Tenant=acme;X-Version=2", "X-Tenant=acme;X-Version=2", true)]
    [InlineData("X-Tenant=acme;X-Version=2", "X-Version=2;X-Tenant=acme;Accept=*/*", true)]
    public void TryMatch_HeaderConditions_AllMustMatch(string conditions, string requestHeaders, bool expected)
    {
        // Arrange
        var table = Table(Route("r", "/") with { Headers = ParsePairs(conditions) });
        var headers = new FakeHeaders(ParsePairs(requestHeaders));

        // Act
        var matched = table.TryMatch(null, "GET", "/x", headers, out _);

        // Assert
        Assert.Equal(expected, matched);
    }

    [Theory]
    [InlineData("GET", null, "get-only")]
    [InlineData("POST", null, "fallback")]
    [InlineData("GET", "beta", "beta-header")]
    [InlineData("POST", "beta", "beta-header")]
    [InlineData("POST", "stable", "fallback")]
    public void TryMatch_HigherRouteRejectsMethodOrHeader_FallsThroughToNextRoute(string method, string? channel, string expected)
    {
        // Arrange
        var table = Table(
            Route("beta-header", "/api/*", priority: 20) with { Headers = new Dictionary<string, string> { ["X-Channel"] = "beta" } },
            Route("get-only", "/api/*", priority: 10) with { Methods = ["GET"] },
            Route("fallback", "/api/*"));
        var headers = channel is null ? FakeHeaders.None : FakeHeaders.Of(("X-Channel", channel));

        // Act
        var name = table.MatchName("/api/items", method: method, headers: headers);

        // Assert
        Assert.Equal(expected, name);
    }

    private static Dictionary<string, string> ParsePairs(string text) =>
        text.Split(';', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(kv => kv[0], kv => kv[1], StringComparer.OrdinalIgnoreCase);
}
