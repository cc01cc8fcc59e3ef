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
    [InlineData("/files%20archive/*", PathMatchType.Prefix, "the path is encoded more than once (a percent escape remains after decoding)")]
    [InlineData("/a%2Fb", PathMatchType.Exact, "the path is encoded more than once (a percent escape remains after decoding)")]
    [InlineData("/{tenant}/caf%C3%A9", PathMatchType.Exact, "the path is encoded more than once (a percent escape remains after decoding)")]
    [InlineData("/static/../admin/*", PathMatchType.Prefix, "the path contains a dot segment ('.' or '..', also with ';' parameters)")]
    [InlineData("/a/./b", PathMatchType.Exact, "the path contains a dot segment ('.' or '..', also with ';' parameters)")]
    [InlineData("/a/..", PathMatchType.Exact, "the path contains a dot segment ('.' or '..', also with ';' parameters)")]
    [InlineData("/a/../", PathMatchType.Prefix, "the path contains a dot segment ('.' or '..', also with ';' parameters)")]
    [InlineData(@"/a\b/*", PathMatchType.Prefix, "the path contains a backslash")]
    public void Validate_LiteralNoRequestPathCanBe_RefusedWithTheRequestPathRule(string pattern, PathMatchType type, string rule)
    {
        // Arrange: paths are matched decoded once, and a request whose decoded path still holds an escape, a dot segment or
        // a backslash is refused with 400 invalid_path before any route, so such a pattern was stored and never matched.

        // Act
        var error = PathPatterns.Validate(pattern, type);

        // Assert
        Assert.Equal("no request path can match this pattern: paths are matched decoded, and " + rule, error);
    }

    [Theory]
    [InlineData("/files/..", PathMatchType.Prefix)] // also /files/..bak
    [InlineData("/files/.", PathMatchType.Prefix)] // also /files/.hidden
    [InlineData("/50%off", PathMatchType.Exact)] // a request for /50%25off
    [InlineData("/caf\u00e9/*", PathMatchType.Prefix)] // a request for /caf%C3%A9
    [InlineData("/a%2", PathMatchType.Prefix)] // also /a%2g
    [InlineData("/v1.2/{id}", PathMatchType.Exact)]
    public void Validate_LiteralSomeRequestPathCanBe_ReturnsNull(string pattern, PathMatchType type)
    {
        // Act
        var error = PathPatterns.Validate(System.Text.RegularExpressions.Regex.Unescape(pattern), type);

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
