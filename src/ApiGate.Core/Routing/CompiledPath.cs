using System.Text.RegularExpressions;

namespace ApiGate.Core.Routing;

/// <summary>A path pattern compiled once per snapshot: literal comparisons where possible, a regex only when needed.</summary>
internal sealed class CompiledPath
{
    private readonly string _literal;
    private readonly bool _literalEndsWithSlash;

    private CompiledPath(PathMatchType type, string literal, RouteRegex? regex, string? exactKey, string? segmentKey, string? secondSegmentKey = null)
    {
        Type = type;
        SecondSegmentKey = secondSegmentKey;
        _literal = literal;
        _literalEndsWithSlash = literal.Length > 1 && literal.EndsWith('/');
        Regex = regex;
        ExactKey = exactKey;
        SegmentKey = segmentKey;
    }

    public PathMatchType Type { get; }

    /// <summary>Set when the pattern needs a regex (regex type, or <c>{name}</c> captures).</summary>
    public RouteRegex? Regex { get; }

    /// <summary>For literal exact patterns: the whole path, used as a dictionary key.</summary>
    public string? ExactKey { get; }

    /// <summary>The first path segment every match must have, when the pattern fixes it; else null (checked for every request).</summary>
    public string? SegmentKey { get; }

    /// <summary>
    /// For a pattern with a capture in its first segment (<c>/{tenant}/orders/*</c>): the second segment every match must
    /// have (<c>orders</c>), when the pattern fixes it; else null. Lets such routes be indexed too, so a config of many
    /// tenant-first routes does not test each of them on every request.
    /// </summary>
    public string? SecondSegmentKey { get; }

    public static CompiledPath Compile(string pattern, PathMatchType type)
    {
        if (type == PathMatchType.Regex)
        {
            var head = LiteralHead(pattern);
            return new CompiledPath(type, "", Compile(PathPatterns.ToRegexSource(pattern, type)), null, CompleteFirstSegment(head, exact: false));
        }

        var hasParameters = PathPatterns.HasParameters(pattern);
        var literal = type == PathMatchType.Prefix ? pattern.TrimEnd('*') : pattern;
        var literalHead = hasParameters ? literal[..literal.IndexOf('{')] : literal;
        var segmentKey = CompleteFirstSegment(literalHead, exact: type == PathMatchType.Exact && !hasParameters);
        if (hasParameters)
        {
            var secondSegmentKey = segmentKey is null ? SecondSegmentAfterCapture(literal, type) : null;
            return new CompiledPath(type, literal, Compile(PathPatterns.ToRegexSource(pattern, type)), null, segmentKey, secondSegmentKey);
        }

        return new CompiledPath(type, literal, null, type == PathMatchType.Exact ? literal : null, segmentKey);
    }

    /// <summary>Matches the path; on success <paramref name="regexMatch"/> or <paramref name="restStart"/> describe the captures.</summary>
    public bool TryMatch(string path, out Match? regexMatch, out int restStart)
    {
        regexMatch = null;
        restStart = -1;
        if (Regex is not null)
        {
            var m = Regex.Match(path);
            if (!m.Success)
            {
                return false;
            }

            regexMatch = m;
            return true;
        }

        if (Type == PathMatchType.Exact)
        {
            return string.Equals(path, _literal, StringComparison.Ordinal);
        }

        if (path.StartsWith(_literal, StringComparison.Ordinal))
        {
            restStart = _literal.Length;
            return true;
        }

        // "/users/*" also matches "/users" itself, with an empty $1.
        if (_literalEndsWithSlash && path.Length == _literal.Length - 1 && _literal.AsSpan(0, path.Length).SequenceEqual(path))
        {
            restStart = path.Length;
            return true;
        }

        return false;
    }

    /// <summary>
    /// The literal text every match of a regex must start with (<c>^/orders/\d+</c> → <c>/orders/</c>), so regex
    /// routes with a fixed first segment are indexed like prefixes. Conservative: any alternation gives no head.
    /// </summary>
    internal static string LiteralHead(string pattern)
    {
        pattern = PathPatterns.ExpandParameters(pattern); // {name} is a capture, not a quantifier
        if (pattern.Contains('|'))
        {
            return "";
        }

        var start = pattern.StartsWith('^') ? 1 : 0;
        var end = start;
        while (end < pattern.Length && !IsRegexSpecial(pattern[end]))
        {
            end++;
        }

        // "/ab?" : a quantifier after the literal run makes its last character optional.
        if (end < pattern.Length && pattern[end] is '*' or '+' or '?' or '{' && end > start)
        {
            end--;
        }

        return pattern[start..end];

        static bool IsRegexSpecial(char c) => c is '.' or '$' or '^' or '{' or '[' or '(' or '|' or ')' or '*' or '+' or '?' or '\\';
    }

    private static string? CompleteFirstSegment(string literalHead, bool exact)
    {
        // "/users/..." fixes the first segment "users". "/us" (a prefix) could match "/users", so it does not.
        if (literalHead.Length < 2 || literalHead[0] != '/')
        {
            return null;
        }

        var end = literalHead.IndexOf('/', 1);
        if (end > 1)
        {
            return literalHead[1..end];
        }

        return exact ? literalHead[1..] : null;
    }

    /// <summary>
    /// The second segment of <paramref name="literal"/> (a pattern with a capture in its first segment, without a
    /// prefix's <c>*</c>) when that segment is literal and complete: <c>/{t}/orders/{id}</c>, <c>/{t}/orders/*</c> and
    /// <c>/v{n}/orders</c> give <c>orders</c>; <c>/{t}/ord*</c> (could match <c>/x/orders</c>), <c>/{t}/orders{x}</c>,
    /// <c>/{t}/{u}</c> and <c>/{t}</c> give null. Neither a capture (<c>[^/]+</c>) nor a literal character of a pattern
    /// is a <c>/</c>, so in every match the second segment starts right after the path's first <c>/</c> past position 0.
    /// </summary>
    private static string? SecondSegmentAfterCapture(string literal, PathMatchType type)
    {
        var firstEnd = literal.Length > 1 && literal[0] == '/' ? literal.IndexOf('/', 1) : -1;
        if (firstEnd <= 1)
        {
            return null;
        }

        var rest = literal[(firstEnd + 1)..];
        var capture = rest.IndexOf('{');
        var head = capture < 0 ? rest : rest[..capture];
        var end = head.IndexOf('/');
        if (end > 0)
        {
            return head[..end];
        }

        // No slash after it: complete only as the end of an exact pattern ("/{t}/orders"); a prefix "/{t}/ord" goes on.
        return end < 0 && capture < 0 && type == PathMatchType.Exact && head.Length > 0 ? head : null;
    }

    private static RouteRegex Compile(string source) => RouteRegex.Compile(source, RegexOptions.CultureInvariant);
}
