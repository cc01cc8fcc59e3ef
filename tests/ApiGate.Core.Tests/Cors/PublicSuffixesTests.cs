using ApiGate.Core.Cors;

namespace ApiGate.Core.Tests.Cors;

public sealed class PublicSuffixesTests
{
    private static readonly PublicSuffixes List = PublicSuffixes.Parse(
    [
        "// ===BEGIN ICANN DOMAINS===",
        "",
        "com",
        "co.uk",
        "*.ck",
        "!www.ck",
        "公司.cn",
        "github.io  trailing words are ignored",
        "  // an indented comment",
    ]);

    [Theory]
    [InlineData("com", true)]
    [InlineData("co.uk", true)]
    [InlineData("example.co.uk", false)]
    [InlineData("anything.ck", true)]   // *.ck: every name one label under ck
    [InlineData("www.ck", false)]       // !www.ck: the exception
    [InlineData("a.b.ck", false)]       // a wildcard covers one label only
    [InlineData("xn--55qx5d.cn", true)] // the Unicode rule, as an origin carries it
    [InlineData("github.io", true)]
    [InlineData("pages.github.io", false)]
    [InlineData("an", false)]
    public void Contains_FollowsTheListsRules(string name, bool expected)
    {
        Assert.Equal(6, List.Count);
        Assert.Equal(expected, List.Contains(name));
    }

    [Theory]
    [InlineData("*.co.uk", "co.uk is a public suffix")]
    [InlineData("https://*.github.io", "github.io is a public suffix")]
    [InlineData("http://*.foo.ck:8080", "foo.ck is a public suffix")]
    public void Canonicalize_PatternOverAPublicSuffix_RefusedNamingTheSuffix(string written, string problemPart)
    {
        Assert.Null(CorsOrigins.Canonicalize(written, out var problem, List));
        Assert.Contains(problemPart, problem, StringComparison.Ordinal);
        Assert.Contains("too wide", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("*.example.co.uk", "https://*.example.co.uk")]
    [InlineData("https://*.www.ck", "https://*.www.ck")]
    [InlineData("https://*.me.github.io", "https://*.me.github.io")]
    [InlineData("https://github.io", "https://github.io")] // an exact origin is one site, never a pattern
    public void Canonicalize_PatternUnderADomainOfOnesOwn_Accepted(string written, string expected)
    {
        Assert.Equal(expected, CorsOrigins.Canonicalize(written, out var problem, List));
        Assert.Null(problem);
    }

    [Fact]
    public void System_ReadsDebiansList()
    {
        // .ci/run installs Debian's publicsuffix package; on a machine without it only one-label suffixes are refused.
        if (!File.Exists(PublicSuffixes.SystemFile) && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Equal(0, PublicSuffixes.System.Count);
            return;
        }

        Assert.True(PublicSuffixes.System.Count > 1000, $"{PublicSuffixes.SystemFile}: {PublicSuffixes.System.Count} rules");
        Assert.True(PublicSuffixes.System.Contains("co.uk"));
        Assert.True(PublicSuffixes.System.Contains("github.io"));
        Assert.False(PublicSuffixes.System.Contains("example.co.uk"));
        Assert.Null(CorsOrigins.Canonicalize("*.github.io", out var problem));
        Assert.Contains("github.io is a public suffix", problem, StringComparison.Ordinal);
    }
}
