namespace ApiGate.Core.Routing;

/// <summary>The captures a path pattern makes (<see cref="PathPatterns.Captures"/>): numbered <c>$n</c> and named <c>{name}</c>.</summary>
public sealed record PathCaptures(IReadOnlySet<int> Numbered, IReadOnlySet<string> Named)
{
    /// <summary>"it captures $1 and {id}", or "it captures nothing".</summary>
    public string Describe()
    {
        var all = Numbered.Select(n => "$" + n.ToString(System.Globalization.CultureInfo.InvariantCulture)).Concat(Named.Select(n => "{" + n + "}")).ToList();
        return all.Count switch
        {
            0 => "it captures nothing",
            1 => "it captures " + all[0],
            _ => "it captures " + string.Join(", ", all.Take(all.Count - 1)) + " and " + all[^1],
        };
    }
}
