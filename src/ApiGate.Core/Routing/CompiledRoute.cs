using System.Text.RegularExpressions;

namespace ApiGate.Core.Routing;

/// <summary>A route compiled for one config snapshot. <see cref="Index"/> is its precedence rank (0 = checked first).</summary>
public sealed class CompiledRoute
{
    private readonly string[] _methods;
    private readonly KeyValuePair<string, string>[] _headers;
    private readonly RouteRegex? _hostRegex;

    internal CompiledRoute(RouteDefinition definition, int index, PathRewriter? rewriter, CompiledRegexes? compiled = null)
    {
        Definition = definition;
        Index = index;
        Rewriter = rewriter;
        Path = compiled?.Path(definition.PathPattern, definition.MatchType) ?? CompiledPath.Compile(definition.PathPattern, definition.MatchType);
        _methods = [.. definition.Methods];
        _headers = [.. definition.Headers];
        if (HostSpecificity == 2)
        {
            _hostRegex = compiled?.Host(definition.HostPattern) ?? HostPattern.CompileRegex(definition.HostPattern);
        }
    }

    public RouteDefinition Definition { get; }

    /// <summary>Compiles a route that is not part of a table (the implicit default-upstream route); its index is -1.</summary>
    public static CompiledRoute Standalone(RouteDefinition definition, PathRewriter? rewriter) => new(definition, -1, rewriter);

    /// <summary>Position in precedence order; also the index of per-route data the gateway keeps alongside the table.</summary>
    public int Index { get; }

    /// <summary>The compiled path rewrite, or null when the path is forwarded as is.</summary>
    public PathRewriter? Rewriter { get; }

    internal CompiledPath Path { get; }

    /// <summary>0 exact, 1 wildcard, 2 regex, 3 any host.</summary>
    internal int HostSpecificity => Definition.HostPattern.Length == 0 ? 3 : (int)Definition.HostMatchType;

    /// <summary>Matches a request path against this route alone (used for the implicit default route).</summary>
    public bool TryMatchPath(string path, out RouteMatch match)
    {
        if (Path.TryMatch(path, out var regexMatch, out var restStart))
        {
            match = new RouteMatch(this, path, regexMatch, restStart);
            return true;
        }

        match = default;
        return false;
    }

    internal bool HostRegexMatches(ReadOnlySpan<char> host) => _hostRegex!.IsMatch(host);

    /// <summary>The compiled host regex of a <c>regex</c> host pattern, else null.</summary>
    internal RouteRegex? HostRegex => _hostRegex;

    internal bool MatchesMethodAndHeaders<THeaders>(string method, THeaders headers)
        where THeaders : IRequestHeaders
    {
        if (_methods.Length > 0)
        {
            var found = false;
            foreach (var m in _methods)
            {
                if (string.Equals(m, method, StringComparison.OrdinalIgnoreCase))
                {
                    found = true;
                    break;
                }
            }

            if (!found)
            {
                return false;
            }
        }

        foreach (var header in _headers)
        {
            if (!headers.HasValue(header.Key, header.Value))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Precedence (SPEC §2.1, docs/routing.md): priority desc, host specificity, path type, longer pattern, more
    /// conditions (required headers, a method list); then longer host pattern and name for a stable order.
    /// </summary>
    public static int ComparePrecedence(RouteDefinition a, RouteDefinition b)
    {
        var c = b.Priority.CompareTo(a.Priority);
        if (c != 0)
        {
            return c;
        }

        c = Specificity(a).CompareTo(Specificity(b));
        if (c != 0)
        {
            return c;
        }

        c = a.MatchType.CompareTo(b.MatchType);
        if (c != 0)
        {
            return c;
        }

        c = PathPatterns.LiteralLength(b.PathPattern).CompareTo(PathPatterns.LiteralLength(a.PathPattern));
        if (c != 0)
        {
            return c;
        }

        c = Conditions(b).CompareTo(Conditions(a));
        if (c != 0)
        {
            return c;
        }

        c = b.HostPattern.Length.CompareTo(a.HostPattern.Length);
        return c != 0 ? c : string.CompareOrdinal(a.Name, b.Name);

        static int Specificity(RouteDefinition r) => r.HostPattern.Length == 0 ? 3 : (int)r.HostMatchType;

        // Each required header is one condition, a method list one more: the route that asks more of a request wins.
        static int Conditions(RouteDefinition r) => r.Headers.Count + (r.Methods.Count > 0 ? 1 : 0);
    }
}
