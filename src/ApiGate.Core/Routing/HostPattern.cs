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

                return ValidateHostChars(pattern.AsSpan(2)) ?? ValidateHostForm(pattern, pattern[2..], wildcard: true);
            case HostMatchType.Regex:
                return PathPatterns.ValidateRegex(pattern);
            default:
                return ValidateHostChars(pattern) ?? ValidateHostForm(pattern, pattern, wildcard: false);
        }
    }

    /// <summary>
    /// Refuses what no request's host can be once it is normalised (<see cref="Normalize"/>): a port, which a request's
    /// host loses before it is compared, and an IPv6 address outside brackets (or brackets around anything else), which
    /// Kestrel refuses in a Host header.
    /// </summary>
    private static string? ValidateHostForm(string pattern, string host, bool wildcard)
    {
        var close = host.LastIndexOf(']');
        var colon = host.LastIndexOf(':');
        if (colon > close && (close >= 0 || host.IndexOf(':') == colon))
        {
            return $"'{pattern}' has a port, and a request's host is matched without its port: write '{pattern[..(pattern.Length - host.Length + colon)]}'";
        }

        if (host.StartsWith('[') && close == host.Length - 1 && !wildcard && IsIPv6(host[1..^1]))
        {
            return null;
        }

        if (host.IndexOfAny(['[', ']']) < 0 && (colon < 0 || IsIPv6(host)))
        {
            return colon < 0 ? null : $"an IPv6 address is matched in brackets, as a Host header carries it: write '[{host}]'";
        }

        return $"'{pattern}' is not a host: an IPv6 address is written '[::1]'";

        static bool IsIPv6(string text) =>
            System.Net.IPAddress.TryParse(text, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;
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
