using ApiGate.Core.Rewriting;

namespace ApiGate.Core.Tests.Rewriting;

/// <summary>SPEC §2.4: a rewrite result that escapes with '..' or is not a valid path is refused.</summary>
public sealed class CheckPathTests
{
    [Theory]
    [InlineData("/")]
    [InlineData("/users/1")]
    [InlineData("/a/./b")]
    [InlineData("/a..b/c")]
    [InlineData("/..a/b")]
    [InlineData("/a/b../c")]
    [InlineData("/a%20b")]
    [InlineData("/a/%2e/b")]
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
