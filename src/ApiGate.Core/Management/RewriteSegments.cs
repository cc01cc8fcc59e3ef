using System.Text.RegularExpressions;

namespace ApiGate.Core.Management;

/// <summary>
/// Refuses a path rewrite that spells out a dot segment (<c>..</c>, also as <c>%2e</c>), so a route cannot be written
/// to climb out of the upstream's base path. A template (<c>/internal/$1</c>) may hold neither <c>.</c> nor <c>..</c>
/// segments; an expression may not hold a <c>..</c> segment inside a path-like string (<c>'/a/../' + x</c>). What a
/// rewrite produces at request time is checked again when it runs (<see cref="Routing.PathRewriter.CheckPath"/>).
/// </summary>
public static partial class RewriteSegments
{
    /// <summary>Null when the rewrite holds no dot segment; else why not.</summary>
    public static string? Validate(string rewrite)
    {
        if (rewrite.StartsWith('/'))
        {
            // A rewrite sets the path only; every request through a template with a literal '?' or '#' would be refused.
            if (rewrite.IndexOfAny(['?', '#']) is var at and >= 0)
            {
                return $"the template has a '{rewrite[at]}'; a rewrite sets the path only (the query string is kept as sent; a request transform's \"query\" changes it)";
            }

            var literal = rewrite;
            foreach (var segment in literal.Split('/'))
            {
                if (DotSegment().IsMatch(segment))
                {
                    return $"the template has a '{segment}' segment; a rewrite cannot hold dot segments";
                }
            }

            // What every request would be refused for at run time ('..;', a backslash, a double encoding, an encoded
            // slash) is refused now, with the placeholders filled by a plain segment.
            return Routing.PathRewriter.CheckPath(Placeholder().Replace(literal, "x")) is { } problem
                ? $"the template would never produce a path the gateway forwards ({problem.Replace("rewritten path refused: ", "", StringComparison.Ordinal)})"
                : null;
        }

        return DotDotInExpression().IsMatch(rewrite) ? "the expression builds a path with a '..' segment; a rewrite cannot climb out of its path" : null;
    }

    [GeneratedRegex(@"\$(?:\d+|\{[^}]*\})", RegexOptions.CultureInvariant)]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"^(?:\.|%2e){1,2}$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DotSegment();

    // '..' (or %2e%2e) with a slash on one side and a slash, quote or the end on the other: '/a/../b', '../x', '/..'.
    [GeneratedRegex(@"(?:/(?:\.|%2e){2}(?=$|[/'""`?#])|(?<=^|['""`/])(?:\.|%2e){2}/)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DotDotInExpression();
}
