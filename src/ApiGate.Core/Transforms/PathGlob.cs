namespace ApiGate.Core.Transforms;

/// <summary>
/// A condition's <c>path_matches</c> glob: <c>*</c> any run of characters (slashes included), <c>?</c> one character,
/// anything else itself (case-sensitive); anchored at both ends. Matched by one greedy pass that only ever returns to the
/// last <c>*</c>, so a match takes at most (path length × glob length) steps, allocates nothing and cannot fail. As a
/// backtracking regex, a glob with several <c>*</c> (<c>/v1/*a*a*a*z</c>) took time polynomial in the length of a path
/// built for it, ran into the regex timeout and failed the request with a 500; a linear regex engine refuses to build
/// an automaton for a glob of a few thousand characters.
/// </summary>
public sealed class PathGlob
{
    private readonly string _pattern;

    private PathGlob(string pattern) => _pattern = pattern;

    public static PathGlob Parse(string pattern) => new(pattern);

    public bool IsMatch(ReadOnlySpan<char> path)
    {
        var pattern = _pattern.AsSpan();
        int p = 0, t = 0, star = -1, resume = 0;
        while (t < path.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                resume = t; // the last '*' first matches nothing; on a mismatch it takes one more character
            }
            else if (p < pattern.Length && (pattern[p] == '?' || pattern[p] == path[t]))
            {
                p++;
                t++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                t = ++resume;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    public override string ToString() => _pattern;
}
