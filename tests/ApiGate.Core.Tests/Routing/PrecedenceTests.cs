using ApiGate.Core.Routing;
using ApiGate.Core.Tests.TestSupport;
using CsCheck;
using static ApiGate.Core.Tests.TestSupport.TestRoutes;

namespace ApiGate.Core.Tests.Routing;

/// <summary>SPEC §2.1: priority, then host specificity, then path type, then longer pattern — across all index buckets.</summary>
public sealed class PrecedenceTests
{
    private const PathMatchType Exact = PathMatchType.Exact;
    private const PathMatchType Prefix = PathMatchType.Prefix;
    private const PathMatchType Regex = PathMatchType.Regex;

    [Fact]
    public void SortByPrecedence_AnyRoutes_OrdersThemAsTheRuleSays()
    {
        // The rule as docs/routing.md writes it, compared field by field: priority (higher first), host specificity
        // (exact, wildcard, regex, any), path type (exact, prefix, regex), longer pattern without its {name} captures,
        // more conditions (required headers, a method list), longer host pattern, name.
        string[] paths = ["/a", "/a/b", "/users/{id}", "/users/{id}/x", "/{t}/a", "/.*"];
        string[] hosts = ["", "api.example.com", "*.example.com", @"^[a-z]+\.example\.com$"];
        var route = Gen.Select(Gen.Int[0, 9999], Gen.Int[0, 2], Gen.Int[0, paths.Length - 1], Gen.Int[0, 2], Gen.Int[0, hosts.Length - 1], Gen.Int[0, 2], Gen.Bool)
            .Select((n, priority, path, type, host, headers, methods) =>
                Route("r" + n, paths[path], (PathMatchType)type, host: hosts[host], priority: priority) with
                {
                    Headers = Enumerable.Range(0, headers).ToDictionary(i => "X-H" + i, _ => "1"),
                    Methods = methods ? ["GET"] : [],
                });
        route.Array[0, 40].Select(routes => routes.DistinctBy(r => r.Name).ToList()).Sample(routes =>
        {
            var sorted = routes.ToList();

            CompiledRoute.SortByPrecedence(sorted);

            var expected = routes
                .OrderByDescending(r => r.Priority)
                .ThenBy(r => r.HostPattern.Length == 0 ? 3 : (int)r.HostMatchType)
                .ThenBy(r => r.MatchType)
                .ThenByDescending(r => PathPatterns.LiteralLength(r.PathPattern))
                .ThenByDescending(r => r.Headers.Count + (r.Methods.Count > 0 ? 1 : 0))
                .ThenByDescending(r => r.HostPattern.Length)
                .ThenBy(r => r.Name, StringComparer.Ordinal)
                .Select(r => r.Name);
            Assert.Equal(expected, sorted.Select(r => r.Name));
        });
    }

    public static TheoryData<string, RouteDefinition[], string?, string, string?> Cases => new()
    {
        // 1. priority beats everything
        {
            "higher-priority regex route beats an exact literal route (unindexed vs exact bucket)",
            [Route("exact", "/users/1", Exact), Route("regex", "/users/.*", Regex, priority: 10)],
            null, "/users/1", "regex"
        },
        {
            "higher-priority any-host catch-all beats exact host + exact path",
            [Route("specific", "/users", Exact, host: "api.example.com"), Route("catch-all", "/", priority: 5)],
            "api.example.com", "/users", "catch-all"
        },
        {
            "higher-priority catch-all '/' beats '/users/*'",
            [Route("users", "/users/*"), Route("catch-all", "/", priority: 1)],
            null, "/users/1", "catch-all"
        },
        {
            "higher-priority short prefix beats longer segment-indexed prefix",
            [Route("users", "/users/*"), Route("short", "/us", priority: 1)],
            null, "/users/1", "short"
        },
        {
            "higher-priority regex host beats exact host",
            [Route("exact-host", "/", host: "api.example.com"), Route("regex-host", "/", host: @"api\.example\.com", hostType: HostMatchType.Regex, priority: 3)],
            "api.example.com", "/x", "regex-host"
        },
        {
            "negative priority loses to default priority",
            [Route("negative", "/users", Exact, priority: -1), Route("default", "/", Prefix)],
            null, "/users", "default"
        },
        // 2. host specificity: exact > wildcard > regex > none
        {
            "exact host beats wildcard host even with a weaker path",
            [Route("wildcard", "/users", Exact, host: "*.example.com"), Route("exact", "/", Prefix, host: "api.example.com")],
            "api.example.com", "/users", "exact"
        },
        {
            "wildcard host beats regex host",
            [Route("regex", "/users", Exact, host: @".*\.example\.com", hostType: HostMatchType.Regex), Route("wildcard", "/", host: "*.example.com")],
            "api.example.com", "/users", "wildcard"
        },
        {
            "regex host beats any host",
            [Route("any", "/users", Exact), Route("regex", "/", host: @"api\.example\.com", hostType: HostMatchType.Regex)],
            "api.example.com", "/users", "regex"
        },
        {
            "any-host route used when the host-specific route does not match the host",
            [Route("any", "/users", Exact), Route("exact", "/", host: "api.example.com")],
            "www.example.com", "/users", "any"
        },
        {
            "exact host route with non-matching path falls back to wildcard",
            [Route("exact", "/orders/*", host: "api.example.com"), Route("wildcard", "/users/*", host: "*.example.com")],
            "api.example.com", "/users/1", "wildcard"
        },
        // 3. path type: exact > prefix > regex
        {
            "exact path beats prefix and regex of the same length",
            [Route("regex", "/users", Regex), Route("prefix", "/users", Prefix), Route("exact", "/users", Exact)],
            null, "/users", "exact"
        },
        {
            "prefix beats regex even when the regex is longer",
            [Route("regex", "/users/[0-9]+", Regex), Route("prefix", "/users/*", Prefix)],
            null, "/users/1", "prefix"
        },
        {
            "exact '/users' beats '/users/*' for '/users'",
            [Route("prefix", "/users/*"), Route("exact", "/users", Exact)],
            null, "/users", "exact"
        },
        {
            "exact with {id} beats prefix",
            [Route("prefix", "/users/*"), Route("exact-param", "/users/{id}", Exact)],
            null, "/users/42", "exact-param"
        },
        // 4. longer pattern first
        {
            "longer prefix beats shorter prefix",
            [Route("api", "/api/*"), Route("api-v1", "/api/v1/*")],
            null, "/api/v1/x", "api-v1"
        },
        {
            "shorter prefix used when the longer does not match",
            [Route("api", "/api/*"), Route("api-v1", "/api/v1/*")],
            null, "/api/v2/x", "api"
        },
        {
            "catch-all '/' (unindexed) loses to '/users/*' (segment bucket)",
            [Route("catch-all", "/"), Route("users", "/users/*")],
            null, "/users/1", "users"
        },
        {
            "catch-all '/' still serves other paths",
            [Route("catch-all", "/"), Route("users", "/users/*")],
            null, "/orders/1", "catch-all"
        },
        {
            "short unindexed prefix '/us' loses to longer '/users/*'",
            [Route("short", "/us"), Route("users", "/users/*")],
            null, "/users/1", "users"
        },
        {
            "short unindexed prefix '/us' serves '/usx'",
            [Route("short", "/us"), Route("users", "/users/*")],
            null, "/usx", "short"
        },
        {
            "a literal segment beats a capture however long the capture's name (prefix)",
            [Route("param", "/users/{user_identifier}/*"), Route("admin", "/users/admin/*")],
            null, "/users/admin/x", "admin"
        },
        {
            "a literal segment beats a capture however long the capture's name (exact)",
            [Route("param", "/users/{user_identifier}", Exact), Route("me", "/users/me", Exact)],
            null, "/users/me", "me"
        },
        {
            "a capture still serves what the literal does not match",
            [Route("param", "/users/{user_identifier}/*"), Route("admin", "/users/admin/*")],
            null, "/users/42/x", "param"
        },
        {
            "longer regex beats shorter regex",
            [Route("short", "/a/.*", Regex), Route("long", "/a/b/.*", Regex)],
            null, "/a/b/c", "long"
        },
        // disabled routes
        {
            "disabled high-priority route never matches",
            [Route("disabled", "/users", Exact, priority: 100) with { Enabled = false }, Route("enabled", "/")],
            null, "/users", "enabled"
        },
        {
            "only a disabled route: no match",
            [Route("disabled", "/") with { Enabled = false }],
            null, "/users", null
        },
        {
            "disabled exact host route never matches",
            [Route("disabled", "/", host: "api.example.com") with { Enabled = false }],
            "api.example.com", "/", null
        },
        // nothing matches
        {
            "empty table",
            [],
            "api.example.com", "/", null
        },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TryMatch_CompetingRoutes_PicksByPrecedence(string scenario, RouteDefinition[] routes, string? host, string path, string? expected)
    {
        // Arrange
        var table = Table(routes);

        // Act
        var name = table.MatchName(path, host);

        // Assert
        Assert.True(expected == name, $"{scenario}: expected {expected ?? "<none>"}, got {name ?? "<none>"}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void TryMatch_CompetingRoutesInReverseOrder_PicksSameRoute(string scenario, RouteDefinition[] routes, string? host, string path, string? expected)
    {
        // Arrange
        var table = Table([.. routes.Reverse()]);

        // Act
        var name = table.MatchName(path, host);

        // Assert
        Assert.True(expected == name, $"{scenario}: expected {expected ?? "<none>"}, got {name ?? "<none>"}");
    }

    private static readonly Dictionary<string, string> BetaHeader = new() { ["X-Beta"] = "1" };

    // Names are chosen so that the name tie-break alone would pick the route without conditions ("a-…" < "z-…").
    public static TheoryData<string, RouteDefinition[], string, (string, string)[], string?> ConditionCases => new()
    {
        {
            "a header condition beats an otherwise equal route without one",
            [Route("a-plain", "/api/*"), Route("z-header", "/api/*") with { Headers = BetaHeader }],
            "GET", [("X-Beta", "1")], "z-header"
        },
        {
            "without the header the route without conditions serves",
            [Route("a-plain", "/api/*"), Route("z-header", "/api/*") with { Headers = BetaHeader }],
            "GET", [], "a-plain"
        },
        {
            "a method list beats an otherwise equal route for all methods",
            [Route("a-any", "/api/*"), Route("z-post", "/api/*") with { Methods = ["POST"] }],
            "POST", [], "z-post"
        },
        {
            "two header conditions beat one",
            [
                Route("a-one", "/api/*") with { Headers = BetaHeader },
                Route("z-two", "/api/*") with { Headers = new Dictionary<string, string> { ["X-Beta"] = "1", ["X-Tenant"] = "acme" } },
            ],
            "GET", [("X-Beta", "1"), ("X-Tenant", "acme")], "z-two"
        },
        {
            "a header and a method list beat a header alone",
            [Route("a-header", "/api/*") with { Headers = BetaHeader }, Route("z-both", "/api/*") with { Headers = BetaHeader, Methods = ["GET"] }],
            "GET", [("X-Beta", "1")], "z-both"
        },
        {
            "priority still beats conditions",
            [Route("z-plain", "/api/*", priority: 1), Route("a-header", "/api/*") with { Headers = BetaHeader }],
            "GET", [("X-Beta", "1")], "z-plain"
        },
        {
            "a longer path still beats conditions",
            [Route("z-long", "/api/v1/*"), Route("a-header", "/api/*") with { Headers = BetaHeader }],
            "GET", [("X-Beta", "1")], "z-long"
        },
    };

    [Theory]
    [MemberData(nameof(ConditionCases))]
    public void TryMatch_EqualRoutesWithAndWithoutConditions_MoreConditionsWin(
        string scenario, RouteDefinition[] routes, string method, (string, string)[] headers, string? expected)
    {
        // Arrange
        var table = Table(routes);
        var reversed = Table([.. routes.Reverse()]);

        // Act
        var name = table.MatchName("/api/v1/x", method: method, headers: FakeHeaders.Of(headers));
        var reversedName = reversed.MatchName("/api/v1/x", method: method, headers: FakeHeaders.Of(headers));

        // Assert
        Assert.True(expected == name, $"{scenario}: expected {expected ?? "<none>"}, got {name ?? "<none>"}");
        Assert.True(expected == reversedName, $"{scenario} (reversed input): expected {expected ?? "<none>"}, got {reversedName ?? "<none>"}");
    }

    [Fact]
    public void Build_MixedRoutes_OrdersByPrecedenceAndDropsDisabled()
    {
        // Arrange
        RouteDefinition[] routes =
        [
            Route("any-regex", "/x/.*", Regex),
            Route("any-prefix-short", "/x/*"),
            Route("any-prefix-long", "/x/yy/*"),
            Route("any-exact", "/x", Exact),
            Route("regex-host", "/", host: "a.*", hostType: HostMatchType.Regex),
            Route("wildcard-host", "/", host: "*.example.com"),
            Route("exact-host", "/", host: "api.example.com"),
            Route("priority", "/", Regex, priority: 1),
            Route("disabled", "/", priority: 99) with { Enabled = false },
        ];

        // Act
        var table = Table(routes);

        // Assert
        Assert.Equal(
            ["priority", "exact-host", "wildcard-host", "regex-host", "any-exact", "any-prefix-long", "any-prefix-short", "any-regex"],
            table.Routes.Select(r => r.Definition.Name));
        Assert.Equal(Enumerable.Range(0, table.Routes.Count), table.Routes.Select(r => r.Index));
    }

    [Fact]
    public void Build_InvalidRegex_ThrowsArgumentExceptionNamingRoute()
    {
        // Arrange
        var broken = Route("Broken Route", "/users/(", Regex);

        // Act
        var ex = Assert.Throws<ArgumentException>(() => Table(broken));

        // Assert
        Assert.Contains("broken-route", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_AnyRequest_DoesNotMatch()
    {
        // Act
        var matched = RouteTable.Empty.TryMatch("api.example.com", "GET", "/", FakeHeaders.None, out _);

        // Assert
        Assert.False(matched);
        Assert.Empty(RouteTable.Empty.Routes);
    }
}
