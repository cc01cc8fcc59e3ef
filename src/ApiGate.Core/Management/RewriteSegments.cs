using System.Text.RegularExpressions;

namespace ApiGate.Core.Management;

/// <summary>
/// Refuses a path rewrite that spells out a dot segment (<c>..</c>, also as <c>%2e</c>), so a route cannot be written
/// to climb out of the upstream's base path. A template (<c>/internal/$1</c>) may hold neither <c>.</c> nor <c>..</c>
/// segments; an expression may not hold a <c>..</c> segment inside a path-like string (<c>'/a/../' + x</c>). What a
/// rewrite produces at request time is checked again when it runs (<see cref="Rewriting.PathRewriter.CheckPath"/>).
/// </summary>
public static partial class RewriteSegments
{
    /// <summary>Null when the rewrite holds no dot segment; else why not.</summary>
    public static string? Validate(string rewrite)
    {
        if (rewrite.StartsWith('/'))
        {
            var path = rewrite;
            var end = path.IndexOfAny(['?', '#']);
            foreach (var segment in (end < 0 ? path : path[..end]).Split('/'))
            {
                if (DotSegment().IsMatch(segment))
                {
                    return $"the template has a '{segment}' segment; a rewrite cannot hold dot segments";
                }
            }

            return null;
        }

        return DotDotInExpression().IsMatch(rewrite) ? "the expression builds a path with a '..' segment; a rewrite cannot climb out of its path" : null;
    }

    [GeneratedRegex(@"^(?:\.|%2e){1,2}$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DotSegment();

    // '..' (or %2e%2e) with a slash on one side and a slash, quote or the end on the other: '/a/../b', '../x', '/..'.
    [GeneratedRegex(@"(?:/(?:\.|%2e){2}(?=$|[/'""`?#])|(?<=^|['""`/])(?:\.|%2e){2}/)", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex DotDotInExpression();
}
