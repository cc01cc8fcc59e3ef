using System.Text;
using System.Text.RegularExpressions;

namespace ApiGate.Core.Routing;

/// <summary>Compiles path patterns (SPEC §2.3) into matchers.</summary>
public static partial class PathPatterns
{
    /// <summary>
    /// Upper bound on one regex evaluation, so a pathological pattern cannot stall a request thread. Generous enough that
    /// a first evaluation (which JIT-compiles the regex) on a loaded machine does not trip it and turn a match into a 404.
    /// </summary>
    public static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(200);

    [GeneratedRegex(@"\{([A-Za-z_][A-Za-z0-9_]*)\}")]
    private static partial Regex ParameterSyntax();

    /// <summary>True when the pattern contains a <c>{name}</c> segment capture.</summary>
    public static bool HasParameters(string pattern) => ParameterSyntax().IsMatch(pattern);

    /// <summary>Returns an error message when <paramref name="pattern"/> is not a valid path pattern of its type, else null.</summary>
    public static string? Validate(string pattern, PathMatchType type)
    {
        if (pattern.Length == 0)
        {
            return "path pattern is required";
        }

        if (type == PathMatchType.Regex)
        {
            return ValidateRegex(ExpandParameters(pattern));
        }

        if (pattern[0] != '/')
        {
            return "path pattern must start with '/'";
        }

        var star = pattern.IndexOf('*');
        if (star >= 0 && (type == PathMatchType.Exact || star != pattern.Length - 1))
        {
            return type == PathMatchType.Exact
                ? "an exact path pattern cannot contain '*'"
                : "'*' is only allowed at the end of a prefix pattern";
        }

        if (HasParameters(pattern) && ValidateRegex(ToRegexSource(pattern, type)) is { } regexProblem)
        {
            return regexProblem;
        }

        // The literal is compared with the decoded request path, which is refused before any route when it still holds a
        // percent escape, a dot segment or a backslash: a pattern made of those could be stored but never matched. A
        // capture stands for a plain segment, and a prefix may go on after its last character ('/files/..' also matches
        // '/files/..bak'), so only what every match must contain is held to the rule.
        var literal = ParameterSyntax().Replace(type == PathMatchType.Prefix ? pattern.TrimEnd('*') : pattern, "x");
        if (type == PathMatchType.Prefix && !literal.EndsWith('/'))
        {
            literal += "x";
        }

        return RequestPaths.CheckDecoded(literal) is { } problem
            ? "no request path can match this pattern: paths are matched decoded, and " + problem
            : null;
    }

    /// <summary>Returns an error message when the regex does not compile, else null.</summary>
    public static string? ValidateRegex(string pattern)
    {
        try
        {
            _ = new Regex(pattern, RegexOptions.CultureInvariant, RegexTimeout);
            return null;
        }
        catch (ArgumentException ex)
        {
            return "invalid regular expression: " + ex.Message;
        }
    }

    /// <summary>
    /// What a match of the pattern captures, as a rewrite template can name it: <c>$1</c> for the rest of a prefix, the
    /// unnamed groups of a regex as <c>$1..$n</c>, and <c>{name}</c> segments and named groups by name. The pattern must
    /// be valid (<see cref="Validate"/>).
    /// </summary>
    public static PathCaptures Captures(string pattern, PathMatchType type)
    {
        if (type != PathMatchType.Regex && !HasParameters(pattern))
        {
            return new PathCaptures(new SortedSet<int>(type == PathMatchType.Prefix ? [1] : []), new SortedSet<string>(StringComparer.Ordinal));
        }

        var numbered = new SortedSet<int>();
        var named = new SortedSet<string>(StringComparer.Ordinal);
        var regex = new Regex(ToRegexSource(pattern, type), RegexOptions.CultureInvariant, RegexTimeout);
        foreach (var name in regex.GetGroupNames())
        {
            // As RouteMatch reads them: a group whose name is a number is $n (0 is the whole match), any other is {name}.
            if (int.TryParse(name, out var number))
            {
                if (number > 0)
                {
                    numbered.Add(number);
                }
            }
            else
            {
                named.Add(name);
            }
        }

        return new PathCaptures(numbered, named);
    }

    /// <summary>
    /// The length of a pattern as precedence compares it (longer first): a <c>{name}</c> capture counts for nothing, so a
    /// literal segment beats a capture in the same place (<c>/users/admin/*</c> before <c>/users/{id}/*</c>) and a
    /// capture's name, which matches nothing, cannot change which route wins.
    /// </summary>
    public static int LiteralLength(string pattern)
    {
        if (!pattern.Contains('{'))
        {
            return pattern.Length;
        }

        var length = pattern.Length;
        foreach (var capture in ParameterSyntax().EnumerateMatches(pattern))
        {
            length -= capture.Length;
        }

        return length;
    }

    /// <summary>Replaces <c>{name}</c> with a named one-segment capture, leaving regex quantifiers such as <c>{2,3}</c> alone.</summary>
    public static string ExpandParameters(string pattern) =>
        ParameterSyntax().Replace(pattern, "(?<$1>[^/]+)");

    /// <summary>
    /// The anchored regex for a pattern that needs one: any regex pattern, and exact/prefix patterns with <c>{name}</c>.
    /// For prefixes the rest of the path after the pattern is unnamed group 1 (<c>$1</c>).
    /// </summary>
    internal static string ToRegexSource(string pattern, PathMatchType type)
    {
        if (type == PathMatchType.Regex)
        {
            return "^(?:" + ExpandParameters(pattern) + ")$";
        }

        var body = type == PathMatchType.Prefix ? pattern.TrimEnd('*') : pattern;
        var trailingSlash = type == PathMatchType.Prefix && body.Length > 1 && body.EndsWith('/');
        if (trailingSlash)
        {
            body = body[..^1];
        }

        var builder = new StringBuilder("^");
        var last = 0;
        foreach (Match m in ParameterSyntax().Matches(body))
        {
            builder.Append(Regex.Escape(body[last..m.Index]));
            builder.Append("(?<").Append(m.Groups[1].Value).Append(">[^/]+)");
            last = m.Index + m.Length;
        }

        builder.Append(Regex.Escape(body[last..]));
        if (type == PathMatchType.Prefix)
        {
            builder.Append(trailingSlash ? "(?:/(.*))?" : "(.*)");
        }

        builder.Append('$');
        return builder.ToString();
    }
}
