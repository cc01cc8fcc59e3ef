using ApiGate.Core.Routing;

namespace ApiGate.Core.Tests.Routing;

/// <summary>SPEC §2.3 pattern rules as checked when a route is written.</summary>
public sealed class PathPatternsTests
{
    [Theory]
    [InlineData("/users", PathMatchType.Exact)]
    [InlineData("/", PathMatchType.Exact)]
    [InlineData("/users/{id}", PathMatchType.Exact)]
    [InlineData("/api/v1", PathMatchType.Prefix)]
    [InlineData("/api/v1/*", PathMatchType.Prefix)]
    [InlineData("/*", PathMatchType.Prefix)]
    [InlineData("/api/v1/users/{id}/*", PathMatchType.Prefix)]
    [InlineData("/users/.*", PathMatchType.Regex)]
    [InlineData(@"/v\d{2,3}/{name}", PathMatchType.Regex)]
    [InlineData(@"^/users/(?<id>\d+)$", PathMatchType.Regex)]
    public void Validate_GoodPattern_ReturnsNull(string pattern, PathMatchType type)
    {
        // Act
        var error = PathPatterns.Validate(pattern, type);

        // Assert
        Assert.Null(error);
    }

    [Theory]
    [InlineData("", PathMatchType.Prefix)]
    [InlineData("", PathMatchType.Regex)]
    [InlineData("users", PathMatchType.Exact)]
    [InlineData("users/*", PathMatchType.Prefix)]
    [InlineData("/users/*", PathMatchType.Exact)]
    [InlineData("/users*", PathMatchType.Exact)]
    [InlineData("/api/*/users", PathMatchType.Prefix)]
    [InlineData("/api/**", PathMatchType.Prefix)]
    [InlineData("*/api", PathMatchType.Prefix)]
    [InlineData("/users/(", PathMatchType.Regex)]
    [InlineData("/users/[a-", PathMatchType.Regex)]
    [InlineData("/users/{id}/(?<id", PathMatchType.Regex)]
    public void Validate_BadPattern_ReturnsError(string pattern, PathMatchType type)
    {
        // Act
        var error = PathPatterns.Validate(pattern, type);

        // Assert
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Theory]
    [InlineData("/users/{id}", "/users/(?<id>[^/]+)")]
    [InlineData("/{a}/{b_2}", "/(?<a>[^/]+)/(?<b_2>[^/]+)")]
    [InlineData(@"/v\d{2,3}", @"/v\d{2,3}")]
    [InlineData(@"/x{2}/{name}", @"/x{2}/(?<name>[^/]+)")]
    [InlineData("/users", "/users")]
    public void ExpandParameters_Pattern_ReplacesOnlyNameCaptures(string pattern, string expected)
    {
        // Act
        var expanded = PathPatterns.ExpandParameters(pattern);

        // Assert
        Assert.Equal(expected, expanded);
    }

    [Theory]
    [InlineData("/users/{id}", true)]
    [InlineData("/users", false)]
    [InlineData(@"/v\d{2,3}", false)]
    [InlineData("/users/{1}", false)]
    public void HasParameters_Pattern_DetectsNameCaptures(string pattern, bool expected)
    {
        // Act
        var has = PathPatterns.HasParameters(pattern);

        // Assert
        Assert.Equal(expected, has);
    }
}
