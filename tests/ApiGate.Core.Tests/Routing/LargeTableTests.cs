using System.Text.RegularExpressions;
using ApiGate.Core.Routing;
using ApiGate.Core.Tests.TestSupport;
using static ApiGate.Core.Tests.TestSupport.TestRoutes;

namespace ApiGate.Core.Tests.Routing;

/// <summary>
/// A large generated table: the indexed lookup must give the same answer as a plain scan of the routes in precedence
/// order (the definition of SPEC §2.1), whatever bucket each route lands in.
/// </summary>
public sealed class LargeTableTests
{
    private static readonly string[] Hosts =
    [
        "", "h0.example.com", "h8.example.com:8443", "H16.Example.com.", "x.w3.example.com", "a.b.w3.example.com",
        "r2-77.example.com", "unknown.test", "[::1]:8080",
    ];

    private static readonly string[] Methods = ["GET", "POST", "delete"];

    [Fact]
    public void Build_FromAPreviousTable_TakesItsRegexesForUnchangedPatternsAndCompilesChangedOnes()
    {
        // Arrange: on a config of thousands of {id} routes every change compiled every route's regex again.
        var users = Route("users", "/users/{id}", PathMatchType.Exact);
        var hosts = Route("hosts", "/h/*", host: @"^(?<tenant>[a-z]+)\.example\.com$", hostType: HostMatchType.Regex);
        var orders = Route("orders", "/orders/{id}/*");
        var first = Table(users, hosts, orders);
        var ordersEdited = orders with { PathPattern = "/orders/{order}/*" };

        // Act
        var second = RouteTable.Build([users with { Priority = 5 }, hosts, ordersEdited, Route("plain", "/plain")], CompileRewrite, first);

        // Assert
        CompiledRoute Named(RouteTable table, string name) => table.Routes.Single(r => r.Definition.Name == name);
        Assert.Same(Named(first, "users").Path, Named(second, "users").Path);
        Assert.Same(Named(first, "hosts").HostRegex, Named(second, "hosts").HostRegex);
        Assert.NotSame(Named(first, "orders").Path, Named(second, "orders").Path);
        Assert.Equal("users", second.MatchName("/users/7"));
        Assert.Equal("hosts", second.MatchName("/h/x", host: "acme.example.com"));
        Assert.Null(second.MatchName("/h/x", host: "acme.example.org"));
        Assert.True(second.TryMatch(null, "GET", "/orders/42/lines", FakeHeaders.None, out var match));
        Assert.Equal("42", match.GetNamed("order"));
        Assert.Null(match.GetNamed("id"));
    }

    [Fact]
    public void TryMatch_FiveHundredRoutes_FindsNeedleRoute()
    {
        // Arrange
        var routes = Generate(500).Append(Route("needle", "/svc250/needle/{id}", PathMatchType.Exact, host: "needle.example.com", priority: 10)).ToArray();
        var table = Table(routes);

        // Act
        Assert.True(table.TryMatch("NEEDLE.example.com:443", "GET", "/svc250/needle/abc", FakeHeaders.None, out var match));

        // Assert
        Assert.Equal("needle", match.Route.Definition.Name);
        Assert.Equal("abc", match.GetNamed("id"));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void TryMatch_FiveHundredRoutes_AgreesWithLinearScanInPrecedenceOrder(int seed)
    {
        // Arrange
        var routes = Generate(500, seed);
        var table = Table(routes);
        var random = new Random(seed * 7919);

        AssertAgreesWithLinearScan(table, random, 3000, () =>
        {
            var n = random.Next(0, 520);
            return random.Next(9) switch
            {
                0 => $"/svc{n}",
                1 => $"/svc{n}/health",
                2 => $"/svc{n}/items/{random.Next(100)}",
                3 => $"/svc{n}/users/u{random.Next(10)}/orders",
                4 => $"/svc{n}/write",
                5 => $"/svc{n}x/other",
                6 => "/",
                7 => $"/svc{n}/",
                _ => $"/other/{n}",
            };
        });
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void TryMatch_RoutesWithACaptureFirst_AgreeWithLinearScanInPrecedenceOrder(int seed)
    {
        // Arrange: tenant-first routes in every shape (indexed by their second segment or not), beside literal ones
        var random = new Random(seed);
        var routes = new List<RouteDefinition>();
        for (var i = 0; i < 400; i++)
        {
            var n = i % 50;
            var route = (i % 16) switch
            {
                0 => Route($"r{i}", $"/{{tenant}}/svc{n}/*"),
                1 => Route($"r{i}", $"/{{tenant}}/svc{n}", PathMatchType.Exact),
                2 => Route($"r{i}", $"/{{tenant}}/svc{n}/items/{{id}}", PathMatchType.Exact),
                3 => Route($"r{i}", $"/{{tenant}}-x/svc{n}/*"),
                4 => Route($"r{i}", $"/{{tenant}}/svc{n}{{x}}", PathMatchType.Exact),
                5 => Route($"r{i}", $"/{{tenant}}/svc{n}*"),
                6 => Route($"r{i}", "/{tenant}/{section}/items", PathMatchType.Exact),
                7 => Route($"r{i}", "/{tenant}/*"),
                8 => Route($"r{i}", "/{tenant}", PathMatchType.Exact),
                9 => Route($"r{i}", $"/v{{n}}/svc{n}/*", host: $"h{i % 5}.example.com"),
                10 => Route($"r{i}", $"/svc{n}/*"),
                11 => Route($"r{i}", $"/svc{n}/{{id}}", PathMatchType.Exact),
                12 => Route($"r{i}", $"/{{tenant}}/svc{n}/*") with { Methods = ["POST"] },
                13 => Route($"r{i}", $"/{{tenant}}/svc{n}/*") with { Headers = new Dictionary<string, string> { ["X-Variant"] = "v" + (i % 3) } },
                14 => Route($"r{i}", "/"),
                _ => Route($"r{i}", $@"/[a-z]+/svc{n}/\d+", PathMatchType.Regex),
            };
            routes.Add(route with { Priority = random.Next(6) == 0 ? random.Next(1, 4) : 0, Enabled = random.Next(15) != 0 });
        }

        var table = Table([.. routes]);

        AssertAgreesWithLinearScan(table, random, 4000, () =>
        {
            var n = random.Next(0, 55);
            var tenant = random.Next(4) switch { 0 => "acme", 1 => "acme-x", 2 => "v2", _ => "svc" + n };
            return random.Next(12) switch
            {
                0 => $"/{tenant}/svc{n}",
                1 => $"/{tenant}/svc{n}/",
                2 => $"/{tenant}/svc{n}/items/{random.Next(100)}",
                3 => $"/{tenant}/svc{n}x",
                4 => $"/{tenant}/svc{n}/items",
                5 => $"/{tenant}/other/items",
                6 => $"/{tenant}",
                7 => $"/{tenant}/",
                8 => $"//svc{n}/items",
                9 => $"/svc{n}/{random.Next(100)}",
                10 => "/",
                _ => $"/{tenant}/svc{n}/{random.Next(100)}",
            };
        });
    }

    [Theory]
    [InlineData("/{tenant}/orders/{id}", PathMatchType.Exact, "orders")]
    [InlineData("/{tenant}/orders/*", PathMatchType.Prefix, "orders")]
    [InlineData("/{tenant}/orders", PathMatchType.Exact, "orders")]
    [InlineData("/v{n}/users/*", PathMatchType.Prefix, "users")]
    [InlineData("/{tenant}/ord*", PathMatchType.Prefix, null)] // also matches /x/orders
    [InlineData("/{tenant}/orders", PathMatchType.Prefix, null)] // also matches /x/orders-old
    [InlineData("/{tenant}/orders{x}", PathMatchType.Exact, null)]
    [InlineData("/{tenant}/{section}/x", PathMatchType.Exact, null)]
    [InlineData("/{tenant}/*", PathMatchType.Prefix, null)]
    [InlineData("/{tenant}", PathMatchType.Exact, null)]
    [InlineData("/{tenant}//x", PathMatchType.Exact, null)]
    [InlineData("/users/{id}", PathMatchType.Exact, null)] // indexed by its first segment instead
    [InlineData("/[a-z]+/orders", PathMatchType.Regex, null)]
    public void Compile_PatternWithACaptureInTheFirstSegment_IsKeyedByItsSecondOnlyWhenEveryMatchHasIt(string pattern, PathMatchType type, string? expected)
    {
        var path = CompiledPath.Compile(pattern, type);

        Assert.Equal(expected, path.SecondSegmentKey);
    }

    [Fact]
    public void Build_FiveHundredRoutes_ExcludesDisabledRoutes()
    {
        // Arrange
        var routes = Generate(500);

        // Act
        var table = Table(routes);

        // Assert
        Assert.Equal(routes.Count(r => r.Enabled), table.Routes.Count);
        Assert.DoesNotContain(table.Routes, r => !r.Definition.Enabled);
    }

    private static RouteDefinition[] Generate(int count, int seed = 1)
    {
        var random = new Random(seed);
        var routes = new List<RouteDefinition>(count);
        for (var i = 0; i < count; i++)
        {
            var route = (i % 12) switch
            {
                0 => Route($"r{i}", $"/svc{i}/health", PathMatchType.Exact),
                1 => Route($"r{i}", $"/svc{i}/*"),
                2 => Route($"r{i}", $"/svc{i}"),
                3 => Route($"r{i}", $@"/svc{i}/items/\d+", PathMatchType.Regex),
                4 => Route($"r{i}", $"/svc{i % 40}/*", host: $"h{i % 20}.example.com"),
                5 => Route($"r{i}", $"/svc{i % 40}/*", host: $"*.w{i % 5}.example.com"),
                6 => Route($"r{i}", $"/svc{i % 40}/*", host: $@"r{i % 5}-\d+\.example\.com", hostType: HostMatchType.Regex),
                7 => Route($"r{i}", $"/svc{i}/users/{{id}}/*"),
                8 => Route($"r{i}", $"/svc{i}/write", PathMatchType.Exact) with { Methods = ["POST"] },
                9 => Route($"r{i}", $"/svc{i % 60}/*") with { Headers = new Dictionary<string, string> { ["X-Variant"] = "v" + (i % 3) } },
                10 => Route($"r{i}", "/"),
                _ => Route($"r{i}", @"/svc\d+/.*", PathMatchType.Regex),
            };

            route = route with { Priority = random.Next(6) == 0 ? random.Next(1, 4) : 0, Enabled = random.Next(15) != 0 };
            routes.Add(route);
        }

        return [.. routes];
    }

    /// <summary>Sends <paramref name="requests"/> random requests (paths from <paramref name="nextPath"/>) to the table and to a linear scan; every answer must agree.</summary>
    private static void AssertAgreesWithLinearScan(RouteTable table, Random random, int requests, Func<string> nextPath)
    {
        var mismatches = new List<string>();
        for (var i = 0; i < requests; i++)
        {
            var path = nextPath();
            var host = Hosts[random.Next(Hosts.Length)];
            var method = Methods[random.Next(Methods.Length)];
            var headers = random.Next(4) == 0 ? FakeHeaders.None : FakeHeaders.Of(("X-Variant", "v" + random.Next(3)));

            // Act
            var expected = LinearScan(table, host, method, path, headers);
            var actual = table.TryMatch(host, method, path, headers, out var match) ? match.Route : null;

            // Assert (collected)
            if (!ReferenceEquals(expected, actual))
            {
                mismatches.Add($"{method} {host} {path}: expected {expected?.Definition.Name ?? "<none>"}, got {actual?.Definition.Name ?? "<none>"}");
            }
        }

        Assert.Empty(mismatches);
    }

    /// <summary>The reference: the first route in precedence order whose host, method, headers and path all match.</summary>
    private static CompiledRoute? LinearScan(RouteTable table, string host, string method, string path, FakeHeaders headers)
    {
        foreach (var route in table.Routes)
        {
            if (HostMatches(route.Definition, host) && route.MatchesMethodAndHeaders(method, headers) && route.TryMatchPath(path, out _))
            {
                return route;
            }
        }

        return null;
    }

    private static bool HostMatches(RouteDefinition route, string requestHost)
    {
        if (route.HostPattern.Length == 0)
        {
            return true;
        }

        var host = HostPattern.Normalize(requestHost).ToString();
        if (host.Length == 0)
        {
            return false;
        }

        switch (route.HostMatchType)
        {
            case HostMatchType.Exact:
                return string.Equals(host, route.HostPattern, StringComparison.OrdinalIgnoreCase);
            case HostMatchType.Wildcard:
                var suffix = route.HostPattern[1..]; // ".example.com"
                return host.Length > suffix.Length
                    && host.EndsWith(suffix, StringComparison.OrdinalIgnoreCase)
                    && !host[..^suffix.Length].Contains('.', StringComparison.Ordinal);
            default:
                return Regex.IsMatch(host, "^(?:" + route.HostPattern + ")$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
        }
    }
}
