using ApiGate.Core.Routing;

namespace ApiGate.Core.Tests.Routing;

public sealed class RegexIndexingTests
{
    [Theory]
    [InlineData(@"^/orders/\d+$", "/orders/")]
    [InlineData(@"/orders/\d+", "/orders/")]
    [InlineData(@"^/users/{id}$", "/users/")]
    [InlineData(@"^/ab?/x", "/a")]
    [InlineData(@"^/a/x|/b/y", "")]
    [InlineData(@"(?i)^/Users/", "")]
    [InlineData(@"^.*$", "")]
    [InlineData(@"^/v\d/", "/v")]
    public void LiteralHead_Pattern_IsTheTextEveryMatchStartsWith(string pattern, string expected)
    {
        // Act
        var head = CompiledPath.LiteralHead(pattern);

        // Assert
        Assert.Equal(expected, head);
    }

    [Theory]
    [InlineData(@"^/orders/\d+$", "orders")]
    [InlineData(@"^/ab?/x", null)]
    [InlineData(@"^/v\d/", null)]
    public void Compile_RegexWithFixedFirstSegment_IsIndexedBySegment(string pattern, string? segment)
    {
        // Act
        var compiled = CompiledPath.Compile(pattern, PathMatchType.Regex);

        // Assert
        Assert.Equal(segment, compiled.SegmentKey);
    }
}
