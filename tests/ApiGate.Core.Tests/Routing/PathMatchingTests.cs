using ApiGate.Core.Routing;
using ApiGate.Core.Tests.TestSupport;
using static ApiGate.Core.Tests.TestSupport.TestRoutes;

namespace ApiGate.Core.Tests.Routing;

/// <summary>SPEC §2.3: path matching through the route table, and the captures a match exposes.</summary>
public sealed class PathMatchingTests
{
    [Theory]
    // exact
    [InlineData("/users", PathMatchType.Exact, "/users", true)]
    [InlineData("/users", PathMatchType.Exact, "/users/", false)]
    [InlineData("/users", PathMatchType.Exact, "/users/1", false)]
    [InlineData("/users", PathMatchType.Exact, "/user", false)]
    [InlineData("/users/", PathMatchType.Exact, "/users", false)]
    [InlineData("/", PathMatchType.Exact, "/", true)]
    [InlineData("/", PathMatchType.Exact, "/x", false)]
    // prefix, trailing * optional
    [InlineData("/api/v1", PathMatchType.Prefix, "/api/v1/users", true)]
    [InlineData("/api/v1/*", PathMatchType.Prefix, "/api/v1/users", true)]
    [InlineData("/api/v1", PathMatchType.Prefix, "/api/v1", true)]
    [InlineData("/api/v1/*", PathMatchType.Prefix, "/api/v1", true)]
    [InlineData("/api/v1/*", PathMatchType.Prefix, "/api/v1/", true)]
    [InlineData("/api/v1/*", PathMatchType.Prefix, "/api/v1/a/b/c", true)]
    [InlineData("/api/v1/*", PathMatchType.Prefix, "/api/v2/users", false)]
    [InlineData("/api/v1/*", PathMatchType.Prefix, "/api", false)]
    [InlineData("/api/v1/*", PathMatchType.Prefix, "/api/v10", false)]
    [InlineData("/users/*", PathMatchType.Prefix, "/users", true)]
    [InlineData("/users/*", PathMatchType.Prefix, "/usersx", false)]
    [InlineData("/users/*", PathMatchType.Prefix, "/user", false)]
    [InlineData("/users", PathMatchType.Prefix, "/users", true)]
    [InlineData("/", PathMatchType.Prefix, "/anything/at/all", true)]
    [InlineData("/", PathMatchType.Prefix, "/", true)]
    [InlineData("/*", PathMatchType.Prefix, "/anything", true)]
    // {name} in exact and prefix patterns: one segment
    [InlineData("/api/v1/users/{id}", PathMatchType.Exact, "/api/v1/users/42", true)]
    [InlineData("/api/v1/users/{id}", PathMatchType.Exact, "/api/v1/users/42/orders", false)]
    [InlineData("/api/v1/users/{id}", PathMatchType.Exact, "/api/v1/users/", false)]
    [InlineData("/api/v1/users/{id}", PathMatchType.Exact, "/api/v1/users", false)]
    [InlineData("/v1.0/users/{id}", PathMatchType.Exact, "/v1x0/users/42", false)]
    [InlineData("/{tenant}/users", PathMatchType.Exact, "/acme/users", true)]
    [InlineData("/{tenant}/users", PathMatchType.Exact, "/acme/corp/users", false)]
    [InlineData("/api/v1/users/{id}", PathMatchType.Prefix, "/api/v1/users/42", true)]
    [InlineData("/api/v1/users/{id}", PathMatchType.Prefix, "/api/v1/users/42/orders", true)]
    [InlineData("/api/v1/users/{id}/*", PathMatchType.Prefix, "/api/v1/users/42", true)]
    [InlineData("/api/v1/users/{id}/*", PathMatchType.Prefix, "/api/v1/users/42/orders/7", true)]
    [InlineData("/api/v1/users/{id}/*", PathMatchType.Prefix, "/api/v1/users", false)]
    [InlineData("/api/v1/users/{id}/*", PathMatchType.Prefix, "/api/v1/users/", false)]
    // regex: anchored at both ends
    [InlineData("/a", PathMatchType.Regex, "/a", true)]
    [InlineData("/a", PathMatchType.Regex, "/ab", false)]
    [InlineData("/a", PathMatchType.Regex, "/x/a", false)]
    [InlineData("/a|/b", PathMatchType.Regex, "/b", true)]
    [InlineData("/a|/b", PathMatchType.Regex, "/bx", false)]
    [InlineData("/a|/b", PathMatchType.Regex, "/xa", false)]
    [InlineData("/users/.*", PathMatchType.Regex, "/users/1/2", true)]
    [InlineData(@"/v\d{2,3}/x", PathMatchType.Regex, "/v12/x", true)]
    [InlineData(@"/v\d{2,3}/x", PathMatchType.Regex, "/v123/x", true)]
    [InlineData(@"/v\d{2,3}/x", PathMatchType.Regex, "/v1/x", false)]
    [InlineData(@"/v\d{2,3}/x", PathMatchType.Regex, "/v1234/x", false)]
    [InlineData("/users/{id}", PathMatchType.Regex, "/users/7", true)]
    [InlineData("/users/{id}", PathMatchType.Regex, "/users/7/x", false)]
    [InlineData("/users/{id}", PathMatchType.Regex, "/users/", false)]
    [InlineData(@"/items/\d{3}/{name}", PathMatchType.Regex, "/items/123/widget", true)]
    public void TryMatch_PathPattern_MatchesAsSpecified(string pattern, PathMatchType type, string path, bool expected)
    {
        // Arrange
        var table = Table(Route("r", pattern, type));

        // Act
        var matched = table.TryMatch(null, "GET", path, FakeHeaders.None, out _);

        // Assert
        Assert.Equal(expected, matched);
    }

    [Theory]
    // prefix rest is $1
    [InlineData("/api/v1/*", PathMatchType.Prefix, "/api/v1/orders/123", "$1", "orders/123")]
    [InlineData("/api/v1/*", PathMatchType.Prefix, "/api/v1", "$1", "")]
    [InlineData("/api/v1/*", PathMatchType.Prefix, "/api/v1/", "$1", "")]
    [InlineData("/api/v1", PathMatchType.Prefix, "/api/v1/users", "$1", "/users")]
    [InlineData("/*", PathMatchType.Prefix, "/a/b", "$1", "a/b")]
    [InlineData("/api/v1/*", PathMatchType.Prefix, "/api/v1/orders", "$2", "")]
    [InlineData("/users", PathMatchType.Exact, "/users", "$1", "")]
    // {name} in exact/prefix
    [InlineData("/api/v1/users/{id}", PathMatchType.Exact, "/api/v1/users/abc", "id", "abc")]
    [InlineData("/{tenant}/users/{id}", PathMatchType.Exact, "/acme/users/9", "tenant", "acme")]
    [InlineData("/{tenant}/users/{id}", PathMatchType.Exact, "/acme/users/9", "id", "9")]
    [InlineData("/users/{id}/*", PathMatchType.Prefix, "/users/42/orders/7", "id", "42")]
    [InlineData("/users/{id}/*", PathMatchType.Prefix, "/users/42/orders/7", "$1", "orders/7")]
    [InlineData("/users/{id}/*", PathMatchType.Prefix, "/users/42", "$1", "")]
    // regex: named groups by name, unnamed groups by number
    [InlineData(@"/users/(?<id>\d+)/(\w+)", PathMatchType.Regex, "/users/5/profile", "id", "5")]
    [InlineData(@"/users/(?<id>\d+)/(\w+)", PathMatchType.Regex, "/users/5/profile", "$1", "profile")]
    [InlineData(@"/users/(?<id>\d+)/(\w+)", PathMatchType.Regex, "/users/5/profile", "$2", "")]
    [InlineData(@"/v(\d+)/(.*)", PathMatchType.Regex, "/v2/things/9", "$1", "2")]
    [InlineData(@"/v(\d+)/(.*)", PathMatchType.Regex, "/v2/things/9", "$2", "things/9")]
    [InlineData(@"/v(\d+)/(.*)", PathMatchType.Regex, "/v2/things/9", "$0", "")]
    [InlineData(@"/v(\d+)/(.*)", PathMatchType.Regex, "/v2/things/9", "$9", "")]
    [InlineData(@"/users/{id}/posts/{postId}", PathMatchType.Regex, "/users/3/posts/77", "postId", "77")]
    [InlineData(@"/files/{name}\.(json|xml)", PathMatchType.Regex, "/files/report.json", "name", "report")]
    [InlineData(@"/files/{name}\.(json|xml)", PathMatchType.Regex, "/files/report.json", "$1", "json")]
    [InlineData(@"/a(b)?", PathMatchType.Regex, "/a", "$1", "")]
    public void TryMatch_PatternWithCaptures_ExposesCapture(string pattern, PathMatchType type, string path, string key, string expected)
    {
        // Arrange
        var table = Table(Route("r", pattern, type));

        // Act
        Assert.True(table.TryMatch(null, "GET", path, FakeHeaders.None, out var match));
        var value = Capture(match, key);

        // Assert
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("/api/v1/*", PathMatchType.Prefix, "/api/v1/x")]
    [InlineData("/users", PathMatchType.Exact, "/users")]
    [InlineData(@"/v(\d+)", PathMatchType.Regex, "/v2")]
    public void GetNamed_PatternWithoutNamedCaptures_ReturnsNull(string pattern, PathMatchType type, string path)
    {
        // Arrange
        var table = Table(Route("r", pattern, type));
        Assert.True(table.TryMatch(null, "GET", path, FakeHeaders.None, out var match));

        // Act
        var id = match.GetNamed("id");
        var captures = match.NamedCaptures();

        // Assert
        Assert.Null(id);
        Assert.Empty(captures);
    }

    [Fact]
    public void NamedCaptures_RegexWithNamedAndNumberedGroups_ReturnsOnlyNamed()
    {
        // Arrange
        var table = Table(Route("r", @"/users/{id}/posts/(?<postId>\d+)/(\w+)", PathMatchType.Regex));
        Assert.True(table.TryMatch(null, "GET", "/users/3/posts/77/comments", FakeHeaders.None, out var match));

        // Act
        var captures = match.NamedCaptures().ToDictionary(p => p.Key, p => p.Value);

        // Assert
        Assert.Equal(new Dictionary<string, string> { ["id"] = "3", ["postId"] = "77" }, captures);
    }

    [Fact]
    public void TryMatch_Match_ExposesMatchedPath()
    {
        // Arrange
        var table = Table(Route("r", "/api/*"));

        // Act
        Assert.True(table.TryMatch(null, "GET", "/api/x", FakeHeaders.None, out var match));

        // Assert
        Assert.Equal("/api/x", match.Path);
        Assert.Equal("r", match.Route.Definition.Name);
    }

    [Theory]
    [InlineData("/users/*", PathMatchType.Prefix, "/users/1", true)]
    [InlineData("/users/*", PathMatchType.Prefix, "/other", false)]
    [InlineData("/users/{id}", PathMatchType.Exact, "/users/1", true)]
    public void TryMatchPath_StandaloneRoute_MatchesPathOnly(string pattern, PathMatchType type, string path, bool expected)
    {
        // Arrange
        var route = CompiledRoute.Standalone(Route("default", pattern, type) with { HostPattern = "api.example.com" }, null);

        // Act
        var matched = route.TryMatchPath(path, out var match);

        // Assert
        Assert.Equal(expected, matched);
        Assert.Equal(-1, route.Index);
        if (matched)
        {
            Assert.Same(route, match.Route);
        }
    }

    [Theory]
    [InlineData(@"/(a+)+b", "/aab", "!b")]
    [InlineData(@"/(a|aa)+b", "/aaab", "!b")]
    [InlineData(@"/(\w+\s?)*x", "/ab x", "!x")]
    [InlineData(@"/(a+)+\.json", "/aa.json", ".jsox")]
    [InlineData(@"/{id}/(.*a){12}z", "/7/aaaaaaaaaaaaz", "")]
    public void TryMatch_CatastrophicRegexAgainstAHostilePath_DoesNotMatchAndLowerRoutesStillDo(string pattern, string matching, string hostileEnd)
    {
        // Arrange: with backtracking, a path built to trip such a pattern ran it for the whole 200 ms timeout on every
        // request, and the timeout then answered 404 although the catch-all below it matched.
        var table = Table(Route("redos", pattern, PathMatchType.Regex, priority: 10), Route("all", "/*"));
        var hostile = (pattern.StartsWith("/{id}", StringComparison.Ordinal) ? "/7/" : "/") + new string('a', 64) + hostileEnd;

        // Act
        var forHostile = table.MatchName(hostile);
        var forMatching = table.MatchName(matching);

        // Assert
        Assert.Equal("all", forHostile);
        Assert.Equal("redos", forMatching);
    }

    [Theory]
    [InlineData(@"^/users/(?<id>[^/]+)(.*)$", "/users/7/orders", true)]
    [InlineData(@"^(?:/(a+)+b)$", "/aab", true)]
    [InlineData(@"^(?:/(?<x>[a-z])\k<x>)$", "/aa", true)]
    [InlineData(@"^(?:/(a+)+b)$", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!b", false)]
    public void RouteRegex_BuildsTheRegexWithoutBacktrackingOnlyWhenAMatchOutlastsItsBudget(string source, string path, bool matches)
    {
        // Arrange: building the regex without backtracking costs ~4 ms and ~430 KB per pattern, so building it with every
        // route made 3,000 {id} routes take 1.5 GB; only a path built to trip the pattern needs it.
        var regex = RouteRegex.Compile(source, System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        Assert.False(regex.FallbackBuilt);

        // Act
        var matched = regex.Match(path).Success;

        // Assert: the hostile path (exponential with backtracking) outlasts the budget and is matched again linearly.
        // A benign match may also outlast it on a loaded machine (its first match compiles the regex), so only the
        // hostile one says whether the second regex was built.
        Assert.Equal(matches, matched);
        if (!matches)
        {
            Assert.True(regex.FallbackBuilt);
        }
    }

    [Fact]
    public void RouteRegex_NeedingBacktrackingAgainstAHostilePath_IsMatchedAgainForTheWholeTimeoutThenThrows()
    {
        // Arrange: a lookahead cannot run without backtracking, so past the budget the match is done again with
        // backtracking for the whole timeout, and a path that outlasts that too is a timeout (the pipeline's 404).
        var regex = RouteRegex.Compile(@"^(?:/(?=a)(a+)+b)$", System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        var hostile = "/" + new string('a', 48) + "!";

        // Act
        var thrown = Assert.Throws<System.Text.RegularExpressions.RegexMatchTimeoutException>(() => regex.Match(hostile));

        // Assert
        Assert.Equal(PathPatterns.RegexTimeout, thrown.MatchTimeout);
        Assert.True(regex.FallbackBuilt);
        Assert.True(regex.Match("/aab").Success);
    }

    [Theory]
    [InlineData(@"/(?<x>[a-z])\k<x>", "/aa", "/ab")]
    [InlineData(@"/(?!admin)[a-z]+", "/users", "/admin")]
    [InlineData(@"/(?<=/)v\d", "/v2", "/vx")]
    [InlineData(@"/(?>a+)b", "/aab", "/aa")]
    public void TryMatch_RegexNeedingBacktracking_StillMatches(string pattern, string matching, string other)
    {
        // Arrange: backreferences, lookarounds and atomic groups cannot run without backtracking; they keep it (with its timeout).
        var table = Table(Route("r", pattern, PathMatchType.Regex));

        // Act + Assert
        Assert.Equal("r", table.MatchName(matching));
        Assert.Null(table.MatchName(other));
    }
}
