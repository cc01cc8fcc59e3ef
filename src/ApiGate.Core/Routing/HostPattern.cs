using System.Text.RegularExpressions;

namespace ApiGate.Core.Routing;

/// <summary>Host normalisation and pattern rules shared by validation and the compiled route table.</summary>
public static class HostPattern
{
    /// <summary>The type a pattern gets when none is given: leading <c>*.</c> → wildcard, else exact.</summary>
    public static HostMatchType InferType(string pattern) =>
        pattern.StartsWith("*.", StringComparison.Ordinal) ? HostMatchType.Wildcard : HostMatchType.Exact;

    /// <summary>
    /// Strips the port and a trailing dot from a request host (<c>API.example.com.:8443</c> → <c>API.example.com</c>).
    /// Case is left alone: comparisons are case-insensitive.
    /// </summary>
    public static ReadOnlySpan<char> Normalize(ReadOnlySpan<char> host)
    {
        if (host.Length > 0 && host[0] == '[')
        {
            // IPv6 literal: [::1]:8080
            var close = host.IndexOf(']');
            return close > 0 ? host[..(close + 1)] : host;
        }

        var colon = host.LastIndexOf(':');
        if (colon >= 0)
        {
            host = host[..colon];
        }

        if (host.Length > 0 && host[^1] == '.')
        {
            host = host[..^1];
        }

        return host;
    }

    /// <summary>Canonical stored form of a pattern: trimmed, lower-case, no trailing dot (regexes are kept as written).</summary>
    public static string Canonicalize(string pattern, HostMatchType type)
    {
        pattern = pattern.Trim();
        if (type == HostMatchType.Regex)
        {
            return pattern;
        }

        pattern = pattern.ToLowerInvariant();
        return pattern.EndsWith('.') ? pattern[..^1] : pattern;
    }

    /// <summary>Returns an error message when the pattern is not valid for its type, else null.</summary>
    public static string? Validate(string pattern, HostMatchType type)
    {
        if (pattern.Length == 0)
        {
            return null;
        }

        switch (type)
        {
            case HostMatchType.Wildcard:
                if (!pattern.StartsWith("*.", StringComparison.Ordinal) || pattern.Length < 3 || pattern.IndexOf('*', 1) >= 0)
                {
                    return "a wildcard host pattern must look like *.example.com";
                }

                return ValidateHostChars(pattern.AsSpan(2));
            case HostMatchType.Regex:
                return PathPatterns.ValidateRegex(pattern);
            default:
                return ValidateHostChars(pattern);
        }
    }

    internal static RouteRegex CompileRegex(string pattern) =>
        RouteRegex.Compile("^(?:" + pattern + ")$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);

    private static string? ValidateHostChars(ReadOnlySpan<char> host)
    {
        foreach (var c in host)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or ':' or '[' or ']'))
            {
                return $"host pattern contains an invalid character '{c}'";
            }
        }

        return null;
    }
}
