using ApiGate.Core.Routing;
using ApiGate.Core.Text;

namespace ApiGate.Core.Tests.TestSupport;

/// <summary>Builds route definitions the way RouteService stores them (canonical host pattern, inferred host type).</summary>
internal static class TestRoutes
{
    public static RouteDefinition Route(
        string name,
        string path,
        PathMatchType matchType = PathMatchType.Prefix,
        string host = "",
        HostMatchType? hostType = null,
        int priority = 0)
    {
        var pattern = host.Trim();
        var type = hostType ?? HostPattern.InferType(pattern);
        var slug = Slug.From(name);
        return new RouteDefinition
        {
            Id = "rt_" + slug,
            Name = name,
            Slug = slug,
            PathPattern = path,
            MatchType = matchType,
            HostPattern = HostPattern.Canonicalize(pattern, type),
            HostMatchType = type,
            Priority = priority,
        };
    }

    public static PathRewriter? CompileRewrite(RouteDefinition definition) =>
        definition.PathRewrite.Length == 0 ? null : PathRewriter.Compile(definition.PathRewrite);

    public static RouteTable Table(params RouteDefinition[] routes) => RouteTable.Build(routes, CompileRewrite);

    /// <summary>The name of the matched route, or null when nothing matches.</summary>
    public static string? MatchName(this RouteTable table, string path, string? host = null, string method = "GET", FakeHeaders? headers = null) =>
        table.TryMatch(host, method, path, headers ?? FakeHeaders.None, out var match) ? match.Route.Definition.Name : null;

    /// <summary><c>$n</c> → numbered capture, anything else → named capture.</summary>
    public static string? Capture(in RouteMatch match, string key) =>
        key.StartsWith('$') ? match.GetNumbered(int.Parse(key[1..], System.Globalization.CultureInfo.InvariantCulture)) : match.GetNamed(key);
}
