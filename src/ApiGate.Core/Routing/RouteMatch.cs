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
    public string GetNumbered(int n) => GetNumbered(n, out _);

    /// <summary><see cref="GetNumbered(int)"/>, with where the value starts in <see cref="Path"/> (-1 when absent).</summary>
    public string GetNumbered(int n, out int start)
    {
        start = -1;
        if (_regexMatch is not null)
        {
            // Named groups are numbered after unnamed ones in .NET; only count unnamed groups as $n.
            var group = _regexMatch.Groups[n];
            if (n > 0 && group.Success && int.TryParse(group.Name, out _))
            {
                start = group.Index;
                return group.Value;
            }

            return "";
        }

        if (n == 1 && _restStart >= 0)
        {
            start = _restStart;
            return Path[_restStart..];
        }

        return "";
    }

    /// <summary><c>{name}</c> / <c>pathParams.name</c>. Null when the pattern has no such capture.</summary>
    public string? GetNamed(string name) => GetNamed(name, out _);

    /// <summary><see cref="GetNamed(string)"/>, with where the value starts in <see cref="Path"/> (-1 when absent).</summary>
    public string? GetNamed(string name, out int start)
    {
        start = -1;
        if (_regexMatch is null)
        {
            return null;
        }

        var group = _regexMatch.Groups[name];
        if (!group.Success)
        {
            return null;
        }

        start = group.Index;
        return group.Value;
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
