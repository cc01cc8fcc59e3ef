namespace ApiGate.Core.Routing;

/// <summary>
/// The path and host regexes of one table's routes by the pattern they were compiled from, for the next table to take
/// instead of compiling them again. A regex depends on nothing but its pattern and match type, so one found here is the
/// regex the pattern compiles to; a route edited to another pattern finds none and is compiled. Compiling a path with
/// <c>{name}</c> segments emits code for it (and its first match runs the JIT over that code): on a config of thousands
/// of such routes, every change compiled all of them again, for one that changed.
/// </summary>
internal sealed class CompiledRegexes
{
    private readonly Dictionary<(string Pattern, PathMatchType Type), CompiledPath> _paths = [];
    private readonly Dictionary<string, RouteRegex> _hosts = new(StringComparer.Ordinal);

    public CompiledRegexes(IEnumerable<CompiledRoute> routes)
    {
        foreach (var route in routes)
        {
            if (route.Path.Regex is not null)
            {
                _paths.TryAdd((route.Definition.PathPattern, route.Definition.MatchType), route.Path);
            }

            if (route.HostRegex is { } host)
            {
                _hosts.TryAdd(route.Definition.HostPattern, host);
            }
        }
    }

    /// <summary>The compiled path with a regex for this pattern, or null when there is none to take (compile it).</summary>
    public CompiledPath? Path(string pattern, PathMatchType type) => _paths.GetValueOrDefault((pattern, type));

    /// <summary>The compiled regex of this host pattern, or null when there is none to take (compile it).</summary>
    public RouteRegex? Host(string pattern) => _hosts.GetValueOrDefault(pattern);
}
