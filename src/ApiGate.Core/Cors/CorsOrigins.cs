using System.Globalization;
using System.Net;
using System.Text;

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
            || (!name.StartsWith('[') && name.AsSpan().ContainsAnyExcept(HostChars) && !IsAsciiForm(ref name)))
        {
            problem = $"'{origin}' has an invalid host" + (host.Contains('*') && !pattern ? ": a wildcard may only be the first label (*.example.com)" : "");
            return null;
        }

        // Browsers send an address in one form only (http://[::1], http://127.0.0.1): one written otherwise
        // (http://[0:0::1], http://127.0.0.01) would never match, one that is not an address would match nothing.
        if (name.StartsWith('[') || EndsInNumber(name))
        {
            if (pattern)
            {
                problem = $"'{origin}' is not a pattern: an IP address has no subdomains; list the address itself";
                return null;
            }

            if ((name.StartsWith('[') ? IPv6Form(name) : IPv4Form(name)) is not { } address)
            {
                problem = $"'{origin}' has an invalid host: not an IP address (an IPv6 address is written in brackets, http://[::1]:3000)";
                return null;
            }

            name = address;
        }

        host = pattern ? "*." + name : name;
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

    /// <summary>
    /// Replaces an internationalised host name (<c>bücher.example</c>) with the ASCII form browsers send in <c>Origin</c>
    /// (<c>xn--bcher-kva.example</c>); false when it is not a valid host name in either form.
    /// </summary>
    private static bool IsAsciiForm(ref string name)
    {
        if (Ascii.IsValid(name))
        {
            return false; // ASCII with characters no host name has
        }

        try
        {
            var ascii = new IdnMapping { UseStd3AsciiRules = true }.GetAscii(name).ToLowerInvariant();
            if (ascii.AsSpan().ContainsAnyExcept(HostChars))
            {
                return false;
            }

            name = ascii;
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>Whether the last label is a number, which makes the whole host an IPv4 address to a browser (URL standard).</summary>
    private static bool EndsInNumber(string name)
    {
        var last = name.AsSpan(name.LastIndexOf('.') + 1);
        return !last.IsEmpty && (!last.ContainsAnyExcept(Digits) || (last.StartsWith("0x") && !last[2..].ContainsAnyExcept(HexDigits)));
    }

    /// <summary>
    /// The dotted-decimal form a browser gives an IPv4 host (URL standard's IPv4 parser: one to four parts, each
    /// decimal, octal with a leading 0 or hexadecimal with 0x), or null when it is not an address.
    /// </summary>
    private static string? IPv4Form(string name)
    {
        var parts = name.Split('.');
        if (parts.Length > 4)
        {
            return null;
        }

        var numbers = new ulong[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i].AsSpan();
            var radix = 10;
            if (part.StartsWith("0x"))
            {
                part = part[2..];
                radix = 16;
            }
            else if (part.Length > 1 && part[0] == '0')
            {
                part = part[1..];
                radix = 8;
            }

            ulong value = 0;
            foreach (var c in part)
            {
                var digit = char.IsAsciiDigit(c) ? c - '0' : char.IsAsciiHexDigitLower(c) ? c - 'a' + 10 : 99;
                if (digit >= radix)
                {
                    return null;
                }

                value = (value * (ulong)radix) + (ulong)digit;
                if (value > uint.MaxValue)
                {
                    return null;
                }
            }

            numbers[i] = value;
        }

        ulong address = 0;
        for (var i = 0; i < numbers.Length - 1; i++)
        {
            if (numbers[i] > 255)
            {
                return null;
            }

            address |= numbers[i] << (8 * (3 - i));
        }

        var lastBits = 8 * (5 - numbers.Length);
        if (numbers[^1] >= 1UL << lastBits)
        {
            return null;
        }

        address |= numbers[^1];
        return string.Create(CultureInfo.InvariantCulture, $"{address >> 24}.{(address >> 16) & 255}.{(address >> 8) & 255}.{address & 255}");
    }

    /// <summary>
    /// The bracketed form a browser gives an IPv6 host (URL standard: lower-case hexadecimal pieces, the first longest
    /// run of two or more zero pieces written <c>::</c>, never a dotted IPv4 tail), or null when it is not an address.
    /// </summary>
    private static string? IPv6Form(string name)
    {
        if (!name.EndsWith(']') || name.Contains('%') || !IPAddress.TryParse(name.AsSpan(1, name.Length - 2), out var address)
            || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            return null;
        }

        var bytes = address.GetAddressBytes();
        Span<int> pieces = stackalloc int[8];
        for (var i = 0; i < 8; i++)
        {
            pieces[i] = (bytes[2 * i] << 8) | bytes[(2 * i) + 1];
        }

        int runStart = -1, runLength = 1;
        for (var i = 0; i < 8; i++)
        {
            var length = 0;
            while (i + length < 8 && pieces[i + length] == 0)
            {
                length++;
            }

            if (length > runLength)
            {
                (runStart, runLength) = (i, length);
            }
        }

        var text = new StringBuilder("[");
        for (var i = 0; i < 8; i++)
        {
            if (i == runStart)
            {
                text.Append(i == 0 ? "::" : ":");
                i += runLength - 1;
                continue;
            }

            text.Append(pieces[i].ToString("x", CultureInfo.InvariantCulture));
            if (i < 7)
            {
                text.Append(':');
            }
        }

        return text.Append(']').ToString();
    }

    /// <summary>True when the canonical <paramref name="origin"/> is a subdomain pattern.</summary>
    public static bool IsPattern(string origin) => origin.Contains("://*.", StringComparison.Ordinal);

    private const string SchemeChars = "abcdefghijklmnopqrstuvwxyz0123456789+-.";

    private const string HostChars = "abcdefghijklmnopqrstuvwxyz0123456789-.";

    private const string Digits = "0123456789";

    private const string HexDigits = "0123456789abcdef";
}
