using System.Text.RegularExpressions;

namespace ApiGate.Core.Routing;

/// <summary>The route a request matched and what its path pattern captured.</summary>
public readonly struct RouteMatch
{
    private readonly Match? _regexMatch;
    private readonly int _restStart;

    internal RouteMatch(CompiledRoute route, string path, Match? regexMatch, int restStart)
    {
        Route = route;
        Path = path;
        _regexMatch = regexMatch;
        _restStart = restStart;
    }

    public CompiledRoute Route { get; }

    /// <summary>The (decoded) request path that was matched.</summary>
    public string Path { get; }

    /// <summary><c>$n</c>: numbered captures; for literal prefixes <c>$1</c> is the rest of the path. Empty when absent.</summary>
    public string GetNumbered(int n)
    {
        if (_regexMatch is not null)
        {
            // Named groups are numbered after unnamed ones in .NET; only count unnamed groups as $n.
            var group = _regexMatch.Groups[n];
            return n > 0 && group.Success && int.TryParse(group.Name, out _) ? group.Value : "";
        }

        return n == 1 && _restStart >= 0 ? Path[_restStart..] : "";
    }

    /// <summary><c>{name}</c> / <c>pathParams.name</c>. Null when the pattern has no such capture.</summary>
    public string? GetNamed(string name)
    {
        if (_regexMatch is null)
        {
            return null;
        }

        var group = _regexMatch.Groups[name];
        return group.Success ? group.Value : null;
    }

    /// <summary>All named captures, for expression contexts.</summary>
    public IEnumerable<KeyValuePair<string, string>> NamedCaptures()
    {
        if (_regexMatch is null)
        {
            yield break;
        }

        foreach (Group group in _regexMatch.Groups)
        {
            if (group.Success && !int.TryParse(group.Name, out _))
            {
                yield return new KeyValuePair<string, string>(group.Name, group.Value);
            }
        }
    }
}
