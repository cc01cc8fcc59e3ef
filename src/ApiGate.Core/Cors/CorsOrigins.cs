using System.Globalization;

namespace ApiGate.Core.Cors;

/// <summary>
/// The origins a route's CORS policy names (<c>--cors-origins</c>): <c>*</c>, an exact origin
/// <c>scheme://host[:port]</c>, or a subdomain pattern <c>[scheme://]*.example.com[:port]</c> (https when the scheme is
/// left out). Stored in the canonical form a browser sends in <c>Origin</c>: lower case, no trailing slash, no default
/// port.
/// </summary>
public static class CorsOrigins
{
    /// <summary>Any origin.</summary>
    public const string Any = "*";

    /// <summary>
    /// The canonical form of <paramref name="origin"/>, or null with <paramref name="problem"/> saying why it is not
    /// an origin or pattern. A pattern over a public suffix (<c>*.co.uk</c>, <c>*.github.io</c>: sites anyone can
    /// register) is refused by <paramref name="suffixes"/> (the system's list unless given).
    /// </summary>
    public static string? Canonicalize(string origin, out string? problem, PublicSuffixes? suffixes = null)
    {
        problem = null;
        var text = origin.Trim();
        if (text == Any)
        {
            return Any;
        }

        if (text.EndsWith('/'))
        {
            text = text[..^1];
        }

        var schemeEnd = text.IndexOf("://", StringComparison.Ordinal);
        string scheme;
        string rest;
        if (schemeEnd < 0)
        {
            if (!text.StartsWith("*.", StringComparison.Ordinal))
            {
                problem = $"'{origin}' is not an origin: write scheme://host[:port] (e.g. https://app.example.com), a pattern *.example.com, or *";
                return null;
            }

            scheme = "https";
            rest = text;
        }
        else
        {
            scheme = text[..schemeEnd].ToLowerInvariant();
            rest = text[(schemeEnd + 3)..];
            if (scheme.Length == 0 || !char.IsAsciiLetter(scheme[0]) || scheme.AsSpan().ContainsAnyExcept(SchemeChars))
            {
                problem = $"'{origin}' has no valid scheme";
                return null;
            }
        }

        if (rest.AsSpan().IndexOfAny("/?#@\\ ") >= 0)
        {
            problem = $"'{origin}' is not an origin: only scheme://host[:port], without a path, query or user";
            return null;
        }

        var host = rest;
        var port = "";
        var colon = rest.LastIndexOf(':');
        if (colon >= 0 && !rest.EndsWith(']'))
        {
            host = rest[..colon];
            port = rest[(colon + 1)..];
            if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
            {
                problem = $"'{origin}' has an invalid port";
                return null;
            }

            port = number.ToString(CultureInfo.InvariantCulture);
            if ((scheme == "https" && number == 443) || (scheme == "http" && number == 80))
            {
                port = "";
            }
        }

        host = host.ToLowerInvariant();
        var pattern = host.StartsWith("*.", StringComparison.Ordinal);
        var name = pattern ? host[2..] : host;
        if (name.Length == 0 || name.Contains('*') || name.StartsWith('.') || name.EndsWith('.') || name.Contains("..", StringComparison.Ordinal)
            || (!name.StartsWith('[') && name.AsSpan().ContainsAnyExcept(HostChars)))
        {
            problem = $"'{origin}' has an invalid host" + (host.Contains('*') && !pattern ? ": a wildcard may only be the first label (*.example.com)" : "");
            return null;
        }

        if (pattern && !name.Contains('.'))
        {
            problem = $"'{origin}' is too wide: a pattern needs at least two labels after '*.' (*.example.com)";
            return null;
        }

        if (pattern && !name.StartsWith('[') && (suffixes ?? PublicSuffixes.System).Contains(name))
        {
            problem = $"'{origin}' is too wide: {name} is a public suffix (anyone can register a site under it); name a domain of your own (*.example.{name})";
            return null;
        }

        return port.Length == 0 ? $"{scheme}://{host}" : $"{scheme}://{host}:{port}";
    }

    /// <summary>True when the canonical <paramref name="origin"/> is a subdomain pattern.</summary>
    public static bool IsPattern(string origin) => origin.Contains("://*.", StringComparison.Ordinal);

    private const string SchemeChars = "abcdefghijklmnopqrstuvwxyz0123456789+-.";

    private const string HostChars = "abcdefghijklmnopqrstuvwxyz0123456789-.";
}
