using System.Collections.Frozen;

namespace ApiGate.Core.Routing;

/// <summary>
/// The route table of one config snapshot. Routes are indexed by host (exact name, wildcard suffix) and, inside
/// each host group, by the exact path, by the first path segment, and — for patterns with a capture in the first
/// segment (<c>/{tenant}/orders/*</c>) — by the second, so a request only tests the few routes that could match it;
/// regex routes without a literal first segment and short prefixes are the fallback list. Every route carries its
/// global precedence rank, and a candidate is only tested when it could beat the best match found so far.
/// </summary>
public sealed class RouteTable
{
    private readonly FrozenDictionary<string, PathIndex>.AlternateLookup<ReadOnlySpan<char>> _exactHosts;
    private readonly FrozenDictionary<string, PathIndex>.AlternateLookup<ReadOnlySpan<char>> _wildcardHosts;
    private readonly (CompiledRoute Route, PathIndex Index)[] _regexHosts;
    private readonly PathIndex _anyHost;

    private RouteTable(
        IReadOnlyList<CompiledRoute> routes,
        Dictionary<string, List<CompiledRoute>> exactHosts,
        Dictionary<string, List<CompiledRoute>> wildcardHosts,
        List<CompiledRoute> regexHosts,
        List<CompiledRoute> anyHost)
    {
        Routes = routes;
        _exactHosts = exactHosts.ToFrozenDictionary(p => p.Key, p => new PathIndex(p.Value), StringComparer.OrdinalIgnoreCase)
            .GetAlternateLookup<ReadOnlySpan<char>>();
        _wildcardHosts = wildcardHosts.ToFrozenDictionary(p => p.Key, p => new PathIndex(p.Value), StringComparer.OrdinalIgnoreCase)
            .GetAlternateLookup<ReadOnlySpan<char>>();
        _regexHosts = [.. regexHosts.Select(r => (r, new PathIndex([r])))];
        _anyHost = new PathIndex(anyHost);
    }

    /// <summary>Enabled routes in precedence order (<see cref="CompiledRoute.Index"/> = position).</summary>
    public IReadOnlyList<CompiledRoute> Routes { get; }

    /// <summary>An empty table.</summary>
    public static RouteTable Empty { get; } = Build([], _ => null);

    /// <summary>
    /// Compiles the enabled routes. Throws <see cref="ArgumentException"/> naming the route when one cannot be compiled.
    /// A path or host regex written exactly as one of <paramref name="previous"/>'s is taken from it instead of being
    /// compiled again (<see cref="CompiledRegexes"/>).
    /// </summary>
    public static RouteTable Build(IEnumerable<RouteDefinition> definitions, Func<RouteDefinition, PathRewriter?> compileRewrite, RouteTable? previous = null)
    {
        var compiled = previous is null ? null : new CompiledRegexes(previous.Routes);
        var ordered = definitions.Where(d => d.Enabled).ToList();
        CompiledRoute.SortByPrecedence(ordered);

        var routes = new List<CompiledRoute>(ordered.Count);
        var exactHosts = new Dictionary<string, List<CompiledRoute>>(StringComparer.OrdinalIgnoreCase);
        var wildcardHosts = new Dictionary<string, List<CompiledRoute>>(StringComparer.OrdinalIgnoreCase);
        var regexHosts = new List<CompiledRoute>();
        var anyHost = new List<CompiledRoute>();
        foreach (var definition in ordered)
        {
            CompiledRoute route;
            try
            {
                route = new CompiledRoute(definition, routes.Count, compileRewrite(definition), compiled);
            }
            catch (Exception ex) when (ex is ArgumentException or FormatException or InvalidOperationException or Expressions.ExpressionException)
            {
                throw new ArgumentException($"route '{definition.Slug}' ({definition.Id}) cannot be compiled: {ex.Message}", ex);
            }

            routes.Add(route);
            switch (route.HostSpecificity)
            {
                case 0:
                    Add(exactHosts, HostPattern.Canonicalize(definition.HostPattern, HostMatchType.Exact), route);
                    break;
                case 1:
                    Add(wildcardHosts, HostPattern.Canonicalize(definition.HostPattern, HostMatchType.Wildcard)[2..], route);
                    break;
                case 2:
                    regexHosts.Add(route);
                    break;
                default:
                    anyHost.Add(route);
                    break;
            }
        }

        return new RouteTable(routes, exactHosts, wildcardHosts, regexHosts, anyHost);

        static void Add(Dictionary<string, List<CompiledRoute>> map, string key, CompiledRoute route)
        {
            if (!map.TryGetValue(key, out var list))
            {
                map[key] = list = [];
            }

            list.Add(route);
        }
    }

    /// <summary>Finds the highest-precedence route for the request, or returns false.</summary>
    public bool TryMatch<THeaders>(string? host, string method, string path, THeaders headers, out RouteMatch match)
        where THeaders : IRequestHeaders
    {
        var best = default(RouteMatch);
        var found = false;
        var normalizedHost = HostPattern.Normalize(host);

        if (normalizedHost.Length > 0)
        {
            if (_exactHosts.TryGetValue(normalizedHost, out var exact))
            {
                exact.FindBest(method, path, headers, ref best, ref found);
            }

            var dot = normalizedHost.IndexOf('.');
            if (dot > 0 && _wildcardHosts.TryGetValue(normalizedHost[(dot + 1)..], out var wildcard))
            {
                wildcard.FindBest(method, path, headers, ref best, ref found);
            }

            foreach (var (route, index) in _regexHosts)
            {
                if ((!found || route.Index < best.Route.Index) && route.HostRegexMatches(normalizedHost))
                {
                    index.FindBest(method, path, headers, ref best, ref found);
                }
            }
        }

        _anyHost.FindBest(method, path, headers, ref best, ref found);
        match = best;
        return found;
    }

    /// <summary>Routes of one host group, indexed by path.</summary>
    private sealed class PathIndex
    {
        private readonly FrozenDictionary<string, CompiledRoute[]>.AlternateLookup<ReadOnlySpan<char>> _exact;
        private readonly FrozenDictionary<string, CompiledRoute[]>.AlternateLookup<ReadOnlySpan<char>> _bySegment;
        private readonly FrozenDictionary<string, CompiledRoute[]>.AlternateLookup<ReadOnlySpan<char>> _bySecondSegment;
        private readonly CompiledRoute[] _unindexed;

        public PathIndex(List<CompiledRoute> routes)
        {
            var exact = new Dictionary<string, List<CompiledRoute>>(StringComparer.Ordinal);
            var bySegment = new Dictionary<string, List<CompiledRoute>>(StringComparer.Ordinal);
            var bySecondSegment = new Dictionary<string, List<CompiledRoute>>(StringComparer.Ordinal);
            var unindexed = new List<CompiledRoute>();
            foreach (var route in routes)
            {
                if (route.Path.ExactKey is { } exactKey)
                {
                    GetList(exact, exactKey).Add(route);
                }
                else if (route.Path.SegmentKey is { } segment)
                {
                    GetList(bySegment, segment).Add(route);
                }
                else if (route.Path.SecondSegmentKey is { } second)
                {
                    GetList(bySecondSegment, second).Add(route);
                }
                else
                {
                    unindexed.Add(route);
                }
            }

            // Lists keep precedence order because routes arrive sorted.
            _exact = exact.ToFrozenDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();
            _bySegment = bySegment.ToFrozenDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();
            _bySecondSegment = bySecondSegment.ToFrozenDictionary(p => p.Key, p => p.Value.ToArray(), StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();
            _unindexed = [.. unindexed];

            static List<CompiledRoute> GetList(Dictionary<string, List<CompiledRoute>> map, string key)
            {
                if (!map.TryGetValue(key, out var list))
                {
                    map[key] = list = [];
                }

                return list;
            }
        }

        public void FindBest<THeaders>(string method, string path, THeaders headers, ref RouteMatch best, ref bool found)
            where THeaders : IRequestHeaders
        {
            if (_exact.TryGetValue(path, out var exact))
            {
                Scan(exact, method, path, headers, ref best, ref found);
            }

            if (path.Length > 1)
            {
                var end = path.IndexOf('/', 1);
                var segment = end < 0 ? path.AsSpan(1) : path.AsSpan(1, end - 1);
                if (_bySegment.TryGetValue(segment, out var candidates))
                {
                    Scan(candidates, method, path, headers, ref best, ref found);
                }

                // Routes with a capture in the first segment, by their second (a capture matches at least one character).
                if (end > 1 && _bySecondSegment.Dictionary.Count > 0)
                {
                    var rest = path.AsSpan(end + 1);
                    var secondEnd = rest.IndexOf('/');
                    if (_bySecondSegment.TryGetValue(secondEnd < 0 ? rest : rest[..secondEnd], out var second))
                    {
                        Scan(second, method, path, headers, ref best, ref found);
                    }
                }
            }

            Scan(_unindexed, method, path, headers, ref best, ref found);
        }

        private static void Scan<THeaders>(CompiledRoute[] candidates, string method, string path, THeaders headers, ref RouteMatch best, ref bool found)
            where THeaders : IRequestHeaders
        {
            foreach (var route in candidates)
            {
                if (found && route.Index >= best.Route.Index)
                {
                    return; // sorted: nothing later can win
                }

                if (route.MatchesMethodAndHeaders(method, headers) && route.Path.TryMatch(path, out var regexMatch, out var restStart))
                {
                    best = new RouteMatch(route, path, regexMatch, restStart);
                    found = true;
                    return;
                }
            }
        }
    }
}
