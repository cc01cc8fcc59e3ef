using ApiGate.Core.Management;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;
using CsCheck;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Security;

/// <summary>
/// docs/routing.md "Path safety", attacked over raw sockets: a path that holds a dot segment, an encoded slash or
/// backslash, a second encoding, bad UTF-8 or a control character never reaches an upstream, through any kind of route;
/// what does reach it stays under the route's prefix and the upstream's base path.
/// </summary>
public sealed class PathSafetyTests : GatewayTestBase
{
    private string _key = "";

    private protected override void Configure(GatewayOptions options) => options.UpstreamUrl = Upstream.Url + "/dflt";

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url + "/base");
        await Gateway.AddRouteAsync(new RouteInput { Name = "pub", Path = "/pub/*", Upstream = "backend" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "priv", Path = "/priv/*", Upstream = "backend", AuthRequired = true }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "exact", Path = "/exact/x", MatchType = "exact", Upstream = "backend" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "rx", Path = "/rx/.+", MatchType = "regex", Upstream = "backend" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "tpl", Path = "/tpl/*", PathRewrite = "/v2/$1", Upstream = "backend" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "expr", Path = "/expr/*", PathRewrite = "'/v3' + path.substring(5)", Upstream = "backend" }, reload: false);
        (_key, _, _) = await Gateway.CreateKeyAsync("owner@example.com");
    }

    /// <summary>Every kind of route, with the prefix the upstream must see everything under.</summary>
    public static TheoryData<string, string> Routes => new()
    {
        { "/pub", "/base/pub/" },
        { "/exact/x", "/base/exact/x" },
        { "/rx", "/base/rx/" },
        { "/tpl", "/base/v2/" },
        { "/expr", "/base/v3/" },
        { "/nomatch", "/dflt/nomatch/" },
    };

    private static readonly string[] Attacks =
    [
        "..", ".", "%2e%2e", "%2E%2E", "%2e", ".%2e", "%2e.", "%252e%252e", "%252E%252E", "%252e.", ".%252e", "%25252e%25252e",
        "%c0%ae%c0%ae", "%e0%80%ae%e0%80%ae", "%2f", "%2F", "%252f", "%5c", "%5C", "%255c", "%00", "%1b", "%7f",
    ];

    /// <summary>One path per kind of route: prefix, exact, regex, rewrite template, rewrite expression, default upstream.</summary>
    public static TheoryData<string> RouteKinds => new() { "/pub", "/exact/x", "/rx", "/tpl", "/expr", "/nomatch" };

    [Theory]
    [MemberData(nameof(RouteKinds))]
    public async Task EncodedTraversal_AnyRouteKind_Returns400InvalidPathAndNothingReachesTheUpstream(string route)
    {
        foreach (var attack in Attacks)
        {
            // Arrange
            var target = $"{route}/{attack}/priv/x";

            // Act (with a key: the default upstream requires one, and refusal must not depend on being anonymous)
            var response = await RawHttp.GetAsync(Gateway.Url, target, "X-API-Key: " + _key);

            // Assert: Kestrel itself refuses a NUL in the path (a bare 400); the gateway refuses the rest as invalid_path.
            Assert.True(response.Status == 400, $"{target}: {response.Status}");
            Assert.True((attack == "%00" ? null : "invalid_path") == response.ErrorCode, $"{target}: {response.ErrorCode}");
            Assert.Empty(Upstream.Received);
        }
    }

    [Theory]
    [InlineData("/pub\\..\\priv\\x")]
    [InlineData("/pub/%zz/x")]
    public async Task BackslashOrMalformedEscape_Returns400(string target)
    {
        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, target);

        // Assert
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_path", response.ErrorCode);
        Assert.Empty(Upstream.Received);
    }

    [Theory]
    [InlineData("/exact/x#")] // not the exact route as written, yet /exact/x to a backend that cuts the fragment off
    [InlineData("/pub/x?a=1#frag")]
    public async Task FragmentInTheTarget_Returns400InvalidPathAndNothingReachesTheUpstream(string target)
    {
        // Act (with a key: the default upstream requires one, and refusal must not depend on being anonymous)
        var response = await RawHttp.GetAsync(Gateway.Url, target, "X-API-Key: " + _key);

        // Assert
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_path", response.ErrorCode);
        Assert.Contains("the request target contains '#'", response.Body, StringComparison.Ordinal);
        Assert.Empty(Upstream.Received);
    }

    [Fact]
    public async Task EncodedDotSegment_RefusalDetail_QuotesAsWrittenWithNoEscapesAndIsNotSniffed()
    {
        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/pub/%2e%2e/priv/x");

        // Assert: the detail's quotes are plain characters (not \u0027 escapes a client would have to undo), and the
        // body is never sniffed into a page
        Assert.Equal(400, response.Status);
        Assert.Contains("the path contains a dot segment ('.' or '..', also with ';' parameters)", response.Body, StringComparison.Ordinal);
        Assert.Equal("nosniff", response.Headers["X-Content-Type-Options"]);
    }

    [Fact]
    public async Task DoubleEncodedTraversalToPrivateRoute_WithoutKey_NeverReachesPrivatePath()
    {
        // Act: the attack from the report — a public prefix, two encoded dot segments, a key-protected path.
        var response = await RawHttp.GetAsync(Gateway.Url, "/pub/%252e%252e/priv/x");

        // Assert
        Assert.Equal(400, response.Status);
        Assert.Equal("invalid_path", response.ErrorCode);
        Assert.DoesNotContain(Upstream.Received, r => r.Path.Contains("/priv", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task PlainPath_AnyRouteKind_ReachesUpstreamUnderItsPrefix(string route, string expectedPrefix)
    {
        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, route == "/exact/x" ? route : route + "/a/caf%C3%A9/b%20c", "X-API-Key: " + _key);

        // Assert
        Assert.Equal(200, response.Status);
        var received = Assert.Single(Upstream.Received);
        Assert.StartsWith(expectedPrefix.TrimEnd('/'), received.Path, StringComparison.Ordinal);
        if (route != "/exact/x")
        {
            Assert.EndsWith("/a/caf%C3%A9/b%20c", received.RawTarget, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task LiteralPercentInPath_IsForwardedAsTheSameCharacter()
    {
        // Act: %25 is a literal '%', matched as one and forwarded re-encoded so one decode gives it back.
        var response = await RawHttp.GetAsync(Gateway.Url, "/pub/50%25off");

        // Assert
        Assert.Equal(200, response.Status);
        var received = Assert.Single(Upstream.Received);
        Assert.Equal("/base/pub/50%25off", received.RawTarget);
        Assert.Equal("/base/pub/50%off", received.Path);
    }

    [Fact]
    public async Task PrivateRoute_WithKeyAndEncodedPath_ForwardsThePathAsTheClientSentIt()
    {
        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, "/priv/a%3Bb/%7Euser", "Authorization: Bearer " + _key);

        // Assert
        Assert.Equal(200, response.Status);
        var received = Assert.Single(Upstream.Received);
        Assert.Equal("/base/priv/a%3Bb/%7Euser", received.RawTarget);
    }

    [Theory]
    [InlineData("/pub/a%3Bb/c%2Bd%3de", "/base/pub/a%3Bb/c%2Bd%3de")] // no rewrite: the whole path as sent
    [InlineData("/tpl/a%3Bb/c%2Bd%3de", "/base/v2/a%3Bb/c%2Bd%3de")] // a template's capture as sent
    [InlineData("/nomatch/a%3Bb%2B", "/dflt/nomatch/a%3Bb%2B")] // the default upstream
    [InlineData("/tpl/caf%C3%A9%20x;v=1+y", "/base/v2/caf%C3%A9%20x;v=1+y")] // literal ';' and '+' stay literal too
    public async Task EncodedSemicolonAndPlus_ReachTheUpstreamEscapedAsSent(string path, string expected)
    {
        // Act
        var response = await RawHttp.GetAsync(Gateway.Url, path, "X-API-Key: " + _key);

        // Assert: %3B and %2B would otherwise arrive as ';' (a matrix parameter) and '+' (a space to form decoders)
        Assert.Equal(200, response.Status);
        var received = Assert.Single(Upstream.Received);
        Assert.Equal(expected, received.RawTarget);
    }

    private static readonly string[] Pieces =
    [
        "x", "priv", "pub", "a.b", ".", "..", "%2e", "%2E", "%2e%2e", "%252e", "%252e%252e", "%25", "%2f", "%252f", "%5c", "%00",
        "%c0%ae", "%41", "%20", "%C3%A9", "~", "%7E", "%2525",
    ];

    [Fact]
    public async Task GeneratedPaths_ReachTheUpstreamOnlyUnderTheRoutePrefixAndBasePath()
    {
        // Arrange: a route (with the prefix its requests must stay under upstream) and up to five generated segments.
        var routes = new (string Route, string Prefix)[]
        {
            ("/pub", "/base/pub/"), ("/tpl", "/base/v2/"), ("/expr", "/base/v3/"), ("/nomatch", "/dflt/nomatch/"), ("/rx", "/base/rx/"),
        };
        var cases = Gen.Select(Gen.Int[0, routes.Length - 1], Gen.OneOf(Pieces).Array[1, 5])
            .Select((route, segments) => (routes[route].Route, routes[route].Prefix, Path: routes[route].Route + "/" + string.Join('/', segments)));
        var refused = 0;
        var forwarded = 0;

        // Act + Assert: a bounded number of requests, each either refused or forwarded under its prefix.
        foreach (var (route, prefix, path) in cases.Array[150].Single())
        {
            var before = Upstream.Received.Count;
            var response = await RawHttp.GetAsync(Gateway.Url, path, "X-API-Key: " + _key);
            if (response.Status == 400)
            {
                Assert.Equal(path.Contains("%00", StringComparison.Ordinal) ? null : "invalid_path", response.ErrorCode);
                Assert.Equal(before, Upstream.Received.Count);
                refused++;
                continue;
            }

            Assert.Equal(200, response.Status);
            var received = Upstream.Received.Last();
            var seen = FullyNormalised(received.RawTarget.Split('?')[0]);
            Assert.True(seen.StartsWith(prefix, StringComparison.Ordinal) || seen + "/" == prefix,
                $"{route}: '{path}' reached the upstream as '{received.RawTarget}' ('{seen}'), outside '{prefix}'");
            forwarded++;
        }

        Assert.True(refused > 0 && forwarded > 0, $"the generator should produce both kinds (refused {refused}, forwarded {forwarded})");
    }

    /// <summary>What the most permissive backend could make of a path: decoded until nothing changes, '\' as '/', dot segments resolved.</summary>
    private static string FullyNormalised(string path)
    {
        for (var i = 0; i < 5; i++)
        {
            var next = Uri.UnescapeDataString(path);
            if (next == path)
            {
                break;
            }

            path = next;
        }

        var output = new List<string>();
        foreach (var segment in path.Replace('\\', '/').Split('/'))
        {
            if (segment == "..")
            {
                if (output.Count > 1)
                {
                    output.RemoveAt(output.Count - 1);
                }
            }
            else if (segment != ".")
            {
                output.Add(segment);
            }
        }

        return string.Join('/', output);
    }
}
