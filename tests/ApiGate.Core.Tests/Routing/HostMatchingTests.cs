using ApiGate.Core.Routing;
using ApiGate.Core.Tests.TestSupport;
using static ApiGate.Core.Tests.TestSupport.TestRoutes;

namespace ApiGate.Core.Tests.Routing;

/// <summary>SPEC §2.2: host matching through the route table.</summary>
public sealed class HostMatchingTests
{
    [Theory]
    // exact, case-insensitive, port and trailing dot stripped
    [InlineData("api.example.com", null, "api.example.com", true)]
    [InlineData("api.example.com", null, "API.Example.COM", true)]
    [InlineData("API.Example.com", null, "api.example.com", true)]
    [InlineData("api.example.com", null, "api.example.com:8443", true)]
    [InlineData("api.example.com", null, "api.example.com.", true)]
    [InlineData("api.example.com", null, "API.example.com.:8443", true)]
    [InlineData("api.example.com.", null, "api.example.com", true)]
    [InlineData("api.example.com", null, "www.example.com", false)]
    [InlineData("api.example.com", null, "api.example.com.evil.net", false)]
    [InlineData("api.example.com", null, "example.com", false)]
    [InlineData("api.example.com", null, null, false)]
    [InlineData("api.example.com", null, "", false)]
    // IPv6 literal
    [InlineData("[::1]", null, "[::1]:8080", true)]
    [InlineData("[::1]", null, "[::1]", true)]
    [InlineData("[::1]", null, "[::2]:8080", false)]
    // wildcard: exactly one label
    [InlineData("*.example.com", null, "api.example.com", true)]
    [InlineData("*.example.com", null, "API.EXAMPLE.COM:443", true)]
    [InlineData("*.example.com", null, "api.example.com.", true)]
    [InlineData("*.Example.COM", null, "api.example.com", true)]
    [InlineData("*.example.com", null, "a.b.example.com", false)]
    [InlineData("*.example.com", null, "example.com", false)]
    [InlineData("*.example.com", null, ".example.com", false)]
    [InlineData("*.example.com", null, "api.example.org", false)]
    [InlineData("*.example.com", null, "apiexample.com", false)]
    // regex: anchored at both ends, case-insensitive
    [InlineData(@"(api|www)\.example\.com", HostMatchType.Regex, "api.example.com", true)]
    [InlineData(@"(api|www)\.example\.com", HostMatchType.Regex, "WWW.Example.com:8080", true)]
    [InlineData(@"^(api|www)\.example\.com$", HostMatchType.Regex, "www.example.com", true)]
    [InlineData(@"(api|www)\.example\.com", HostMatchType.Regex, "x.api.example.com", false)]
    [InlineData(@"(api|www)\.example\.com", HostMatchType.Regex, "api.example.com.evil.net", false)]
    [InlineData(@"(api|www)\.example\.com", HostMatchType.Regex, "ftp.example.com", false)]
    [InlineData(@"api|www\.example\.com", HostMatchType.Regex, "api.evil.net", false)]
    [InlineData(@"api\d+\.example\.com", HostMatchType.Regex, "api42.example.com", true)]
    [InlineData(@"api\d+\.example\.com", HostMatchType.Regex, "api.example.com", false)]
    // empty pattern: any host, including none
    [InlineData("", null, "anything.example.net", true)]
    [InlineData("", null, "[::1]:8080", true)]
    [InlineData("", null, "", true)]
    [InlineData("", null, null, true)]
    public void TryMatch_HostPattern_MatchesAsSpecified(string pattern, HostMatchType? type, string? requestHost, bool expected)
    {
        // Arrange
        var table = Table(Route("r", "/", host: pattern, hostType: type));

        // Act
        var matched = table.TryMatch(requestHost, "GET", "/x", FakeHeaders.None, out _);

        // Assert
        Assert.Equal(expected, matched);
    }

    [Theory]
    [InlineData("api.example.com", HostMatchType.Exact)]
    [InlineData("*.example.com", HostMatchType.Wildcard)]
    [InlineData("*example.com", HostMatchType.Exact)]
    [InlineData("a.*.example.com", HostMatchType.Exact)]
    [InlineData(@"(api|www)\.example\.com", HostMatchType.Exact)]
    [InlineData("", HostMatchType.Exact)]
    public void InferType_Pattern_ReturnsWildcardOnlyForLeadingStarDot(string pattern, HostMatchType expected)
    {
        // Act
        var type = HostPattern.InferType(pattern);

        // Assert
        Assert.Equal(expected, type);
    }

    [Theory]
    [InlineData("api.example.com", "api.example.com")]
    [InlineData("api.example.com:8443", "api.example.com")]
    [InlineData("api.example.com.", "api.example.com")]
    [InlineData("API.example.com.:8443", "API.example.com")]
    [InlineData("[::1]:8080", "[::1]")]
    [InlineData("[::1]", "[::1]")]
    [InlineData("[2001:db8::1]:443", "[2001:db8::1]")]
    [InlineData("localhost", "localhost")]
    [InlineData("", "")]
    public void Normalize_RequestHost_StripsPortAndTrailingDotKeepingCase(string host, string expected)
    {
        // Act
        var normalized = HostPattern.Normalize(host).ToString();

        // Assert
        Assert.Equal(expected, normalized);
    }

    [Theory]
    [InlineData(" API.Example.com. ", HostMatchType.Exact, "api.example.com")]
    [InlineData("*.Example.COM", HostMatchType.Wildcard, "*.example.com")]
    [InlineData(@" ^API\.Example\.com$ ", HostMatchType.Regex, @"^API\.Example\.com$")]
    public void Canonicalize_Pattern_LowerCasesAndTrimsExceptRegexCase(string pattern, HostMatchType type, string expected)
    {
        // Act
        var canonical = HostPattern.Canonicalize(pattern, type);

        // Assert
        Assert.Equal(expected, canonical);
    }

    [Theory]
    [InlineData("", HostMatchType.Exact)]
    [InlineData("api.example.com", HostMatchType.Exact)]
    [InlineData("my_host-1.example.com", HostMatchType.Exact)]
    [InlineData("[::1]", HostMatchType.Exact)]
    [InlineData("*.example.com", HostMatchType.Wildcard)]
    [InlineData(@"(api|www)\.example\.com", HostMatchType.Regex)]
    public void Validate_GoodPattern_ReturnsNull(string pattern, HostMatchType type)
    {
        // Act
        var error = HostPattern.Validate(pattern, type);

        // Assert
        Assert.Null(error);
    }

    [Theory]
    [InlineData("*example.com", HostMatchType.Wildcard)]
    [InlineData("a.*.example.com", HostMatchType.Wildcard)]
    [InlineData("*.*.example.com", HostMatchType.Wildcard)]
    [InlineData("*.", HostMatchType.Wildcard)]
    [InlineData("*", HostMatchType.Wildcard)]
    [InlineData("example.com", HostMatchType.Wildcard)]
    [InlineData("*.exa mple.com", HostMatchType.Wildcard)]
    [InlineData("*.example.com", HostMatchType.Exact)]
    [InlineData("api example.com", HostMatchType.Exact)]
    [InlineData("api.example.com/path", HostMatchType.Exact)]
    [InlineData("(api", HostMatchType.Regex)]
    [InlineData("[a-", HostMatchType.Regex)]
    public void Validate_BadPattern_ReturnsError(string pattern, HostMatchType type)
    {
        // Act
        var error = HostPattern.Validate(pattern, type);

        // Assert
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Theory]
    [InlineData("api.example.com:8443", HostMatchType.Exact, "'api.example.com:8443' has a port, and a request's host is matched without its port: write 'api.example.com'")]
    [InlineData("[::1]:8080", HostMatchType.Exact, "'[::1]:8080' has a port, and a request's host is matched without its port: write '[::1]'")]
    [InlineData("*.example.com:80", HostMatchType.Wildcard, "'*.example.com:80' has a port, and a request's host is matched without its port: write '*.example.com'")]
    [InlineData("::1", HostMatchType.Exact, "an IPv6 address is matched in brackets, as a Host header carries it: write '[::1]'")]
    [InlineData("2001:db8::7", HostMatchType.Exact, "an IPv6 address is matched in brackets, as a Host header carries it: write '[2001:db8::7]'")]
    [InlineData("[::1", HostMatchType.Exact, "'[::1' is not a host: an IPv6 address is written '[::1]'")]
    [InlineData("[example.com]", HostMatchType.Exact, "'[example.com]' is not a host: an IPv6 address is written '[::1]'")]
    [InlineData("a]b.example.com", HostMatchType.Exact, "'a]b.example.com' is not a host: an IPv6 address is written '[::1]'")]
    [InlineData("*.[::1]", HostMatchType.Wildcard, "'*.[::1]' is not a host: an IPv6 address is written '[::1]'")]
    public void Validate_PatternNoRequestCanMatch_RefusedSayingWhy(string pattern, HostMatchType type, string expected)
    {
        // Arrange: a request's host loses its port before it is compared, and Kestrel refuses (400) a Host with an IPv6
        // address outside brackets or with brackets around anything else, so these patterns were accepted and then
        // never matched anything.
        var canonical = HostPattern.Canonicalize(pattern, type);

        // Act
        var error = HostPattern.Validate(canonical, type);

        // Assert
        Assert.Equal(expected, error);
    }

    [Theory]
    [InlineData("api.example.com:8443", "api.example.com:8443")]
    [InlineData("*.example.com:80", "a.example.com:80")]
    public void TryMatch_PatternWithAPort_NeverMatchedTheHostItNames(string pattern, string requestHost)
    {
        // Arrange: why a pattern with a port is refused when written.
        var table = Table(Route("r", "/", host: pattern));

        // Act + Assert
        Assert.Null(table.MatchName("/", host: requestHost));
    }

    [Fact]
    public void TryMatch_CatastrophicHostRegexAgainstAHostileHost_DoesNotMatchAndOtherRoutesStillDo()
    {
        // Arrange: with backtracking, a Host built to trip the pattern ran it for the whole 200 ms timeout and the request got 404.
        var table = Table(
            Route("redos", "/", host: @"(a+)+\.example\.com", hostType: HostMatchType.Regex),
            Route("any", "/"));

        // Act
        var forHostile = table.MatchName("/x", host: new string('a', 64) + ".example.net");
        var forMatching = table.MatchName("/x", host: "aaa.example.com:8443");

        // Assert
        Assert.Equal("any", forHostile);
        Assert.Equal("redos", forMatching);
    }
}
