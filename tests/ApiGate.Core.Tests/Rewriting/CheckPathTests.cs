using ApiGate.Core.Routing;

namespace ApiGate.Core.Tests.Rewriting;

/// <summary>SPEC §2.4: a rewrite result is held to the client-path rule — a dot segment, encoded slash or backslash, second encoding or control character in it is refused.</summary>
public sealed class CheckPathTests
{
    [Theory]
    [InlineData("/")]
    [InlineData("/users/1")]
    [InlineData("/a..b/c")]
    [InlineData("/..a/b")]
    [InlineData("/a/b../c")]
    [InlineData("/a%20b")]
    [InlineData("/caf%C3%A9/x")]
    [InlineData("/café/x")]
    [InlineData("/50%off")]
    [InlineData("/a/file%2etxt")]
    public void CheckPath_SafeAbsolutePath_ReturnsNull(string path)
    {
        // Act
        var problem = PathRewriter.CheckPath(path);

        // Assert
        Assert.Null(problem);
    }

    [Theory]
    [InlineData("")]
    [InlineData("users/1")]
    [InlineData("http://evil.example.com/")]
    [InlineData("/a/../b")]
    [InlineData("/..")]
    [InlineData("/a/..")]
    [InlineData("/a/%2e%2e/b")]
    [InlineData("/a/%2E%2E/b")]
    [InlineData("/a/.%2e/b")]
    [InlineData("/a/%2e./b")]
    [InlineData("/a/./b")]
    [InlineData("/a/%2e/b")]
    [InlineData("/a/%252e%252e/b")]
    [InlineData("/a/%25%32%65%25%32%65/b")]
    [InlineData("/a/%c0%ae%c0%ae/b")]
    [InlineData("/a/%5c/b")]
    [InlineData("/a/%255c/b")]
    [InlineData("/a/%00/b")]
    [InlineData("/a/%1b/b")]
    [InlineData("/a%2f..%2fb")]
    [InlineData("/a?b=1")]
    [InlineData("/a#b")]
    [InlineData(@"/a\b")]
    [InlineData("/a\nb")]
    [InlineData("/a\rb")]
    [InlineData("/a\tb")]
    [InlineData("/a\0b")]
    public void CheckPath_UnsafeOrInvalidPath_ReturnsProblem(string path)
    {
        // Act
        var problem = PathRewriter.CheckPath(path);

        // Assert
        Assert.False(string.IsNullOrEmpty(problem));
    }
}
