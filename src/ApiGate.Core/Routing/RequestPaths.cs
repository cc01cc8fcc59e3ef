using System.Buffers;
using System.Text;

namespace ApiGate.Core.Routing;

/// <summary>
/// The one rule for request paths (docs/routing.md, "Path safety"): the gateway decodes the path exactly once, refuses
/// anything that another decoder or normaliser could read differently, matches the decoded path, and forwards that same
/// path re-encoded so a single decode upstream yields it byte for byte.
/// Refused: dot segments (<c>.</c>, <c>..</c>) in any encoding, encoded or literal backslashes, encoded slashes,
/// percent sequences left after one decode (double encoding), malformed percent escapes, invalid or overlong UTF-8, and
/// control characters.
/// </summary>
public static class RequestPaths
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private static readonly SearchValues<char> KeptOutgoing = SearchValues.Create(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/");

    /// <summary>
    /// True when the raw path needs no decoding and holds nothing the rule refuses (printable ASCII without '%', '\\' or
    /// dot segments): then the decoded path is the raw path itself. The common case, checked without allocating.
    /// </summary>
    public static bool IsPlain(ReadOnlySpan<char> raw)
    {
        if (raw.IsEmpty || raw[0] != '/')
        {
            return false;
        }

        var segmentStart = 1;
        var nameEnd = -1; // the first ';' of the segment: what follows is a path parameter (Tomcat, Jetty, Spring)
        for (var i = 1; i <= raw.Length; i++)
        {
            if (i == raw.Length || raw[i] == '/')
            {
                if (IsDotSegment(raw[segmentStart..(nameEnd < 0 ? i : nameEnd)]))
                {
                    return false;
                }

                segmentStart = i + 1;
                nameEnd = -1;
                continue;
            }

            var c = raw[i];
            if (c <= ' ' || c >= 0x7F || c is '%' or '\\')
            {
                return false;
            }

            if (c == ';' && nameEnd < 0)
            {
                nameEnd = i;
            }
        }

        return true;
    }

    /// <summary>
    /// Decodes the path part of a raw request target (<c>/a/b%20c</c>, no query) once. Returns null and the decoded path,
    /// or the reason it is refused. Only printable ASCII may stand unescaped, as in a request line.
    /// </summary>
    public static string? TryDecode(ReadOnlySpan<char> raw, out string decoded) => Decode(raw, requestLine: true, out decoded);

    /// <summary>
    /// Like <see cref="TryDecode"/> for a path the gateway produced (a rewrite): characters that would need escaping on
    /// the wire (non-ASCII, space, a '%' that starts no escape) may stand unescaped; percent escapes are decoded once and
    /// the result is held to the same rule.
    /// </summary>
    public static string? TryDecodeProduced(ReadOnlySpan<char> path, out string decoded) => Decode(path, requestLine: false, out decoded);

    private static string? Decode(ReadOnlySpan<char> raw, bool requestLine, out string decoded)
    {
        decoded = "";
        if (raw.IsEmpty || raw[0] != '/')
        {
            return "the path must start with '/'";
        }

        foreach (var c in raw)
        {
            if (char.IsControl(c))
            {
                return "the path contains a control character";
            }

            if (requestLine && (c <= ' ' || c >= 0x7F))
            {
                return c == ' ' ? "the path contains white space" : "the path contains a non-ASCII character";
            }
        }

        if (IsPlain(raw))
        {
            decoded = raw.ToString();
            return null;
        }

        if (raw.Contains('\\'))
        {
            return "the path contains a backslash";
        }

        string text;
        if (raw.Contains('%'))
        {
            var bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(raw.Length));
            try
            {
                var count = Encoding.UTF8.GetBytes(raw, bytes);
                var length = 0;
                for (var i = 0; i < count; i++)
                {
                    if (bytes[i] != '%')
                    {
                        bytes[length++] = bytes[i];
                        continue;
                    }

                    if (i + 2 >= count || !IsHex((char)bytes[i + 1]) || !IsHex((char)bytes[i + 2]))
                    {
                        if (requestLine)
                        {
                            return "the path has a malformed percent escape";
                        }

                        bytes[length++] = bytes[i]; // a produced path may hold a literal '%' (from a decoded %25)
                        continue;
                    }

                    var b = (byte)((HexValue((char)bytes[i + 1]) << 4) | HexValue((char)bytes[i + 2]));
                    if (b == '/')
                    {
                        return "the path contains an encoded slash (%2F)";
                    }

                    bytes[length++] = b;
                    i += 2;
                }

                try
                {
                    text = StrictUtf8.GetString(bytes, 0, length);
                }
                catch (DecoderFallbackException)
                {
                    return "the path is not valid UTF-8 (an overlong or truncated sequence)";
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(bytes);
            }
        }
        else
        {
            text = raw.ToString();
        }

        if (CheckDecoded(text) is { } problem)
        {
            return problem;
        }

        decoded = text;
        return null;
    }

    /// <summary>
    /// Null when <paramref name="path"/>, a decoded path such as a match or a rewrite produced, can be forwarded: it starts
    /// with '/', has no dot segment, backslash, control character, or percent sequence that a second decode would turn into
    /// something else. Otherwise the reason.
    /// </summary>
    public static string? CheckDecoded(ReadOnlySpan<char> path)
    {
        if (path.IsEmpty || path[0] != '/')
        {
            return "the path must start with '/'";
        }

        for (var i = 0; i < path.Length; i++)
        {
            var c = path[i];
            if (char.IsControl(c))
            {
                return "the path contains a control character";
            }

            if (c == '\\')
            {
                return "the path contains a backslash";
            }

            // %XX, and IIS's %uXXXX: a backend that decodes again would read either as another character.
            if (c == '%' && ((i + 2 < path.Length && IsHex(path[i + 1]) && IsHex(path[i + 2]))
                || (i + 5 < path.Length && path[i + 1] is 'u' or 'U' && IsHex(path[i + 2]) && IsHex(path[i + 3]) && IsHex(path[i + 4]) && IsHex(path[i + 5]))))
            {
                return "the path is encoded more than once (a percent escape remains after decoding)";
            }
        }

        foreach (var range in path.Split('/'))
        {
            var segment = path[range];
            var parameters = segment.IndexOf(';');
            if (IsDotSegment(parameters < 0 ? segment : segment[..parameters]))
            {
                return "the path contains a dot segment ('.' or '..', also with ';' parameters)";
            }
        }

        return null;
    }

    /// <summary>
    /// Encodes a decoded path for the request line: characters a path may hold literally are kept, everything else
    /// (including '%') becomes UTF-8 percent escapes, so one decode upstream gives back <paramref name="path"/> exactly.
    /// </summary>
    public static string Encode(string path)
    {
        var first = path.AsSpan().IndexOfAnyExcept(KeptOutgoing);
        if (first < 0)
        {
            return path;
        }

        var builder = new StringBuilder(path.Length + 16);
        builder.Append(path, 0, first);
        Span<byte> utf8 = stackalloc byte[4];
        for (var i = first; i < path.Length; i++)
        {
            var c = path[i];
            if (KeptOutgoing.Contains(c))
            {
                builder.Append(c);
                continue;
            }

            int count;
            if (char.IsHighSurrogate(c) && i + 1 < path.Length && char.IsLowSurrogate(path[i + 1]))
            {
                count = Encoding.UTF8.GetBytes(path.AsSpan(i, 2), utf8);
                i++;
            }
            else
            {
                count = Encoding.UTF8.GetBytes(path.AsSpan(i, 1), utf8);
            }

            foreach (var b in utf8[..count])
            {
                builder.Append('%').Append("0123456789ABCDEF"[b >> 4]).Append("0123456789ABCDEF"[b & 0xF]);
            }
        }

        return builder.ToString();
    }

    /// <summary>
    /// <paramref name="path"/> (decoded) as records show it — the access log, usage events, the console: characters that
    /// are invisible or reorder the text around them (Unicode format characters such as U+202E RIGHT-TO-LEFT OVERRIDE,
    /// U+200B ZERO WIDTH SPACE, U+FEFF and the tag characters, and the line and paragraph separators) are written as their UTF-8 percent
    /// escapes, as the client sent them, so a path cannot disguise itself or the text after it in a terminal or a table.
    /// Such a path is still matched and forwarded as it is. An ASCII path (the usual case) is returned as it is.
    /// </summary>
    public static string Visible(string path)
    {
        if (Ascii.IsValid(path))
        {
            return path;
        }

        StringBuilder? builder = null;
        var copied = 0;
        for (var i = 0; i < path.Length;)
        {
            // By code point: the tag characters (U+E0000–U+E007F) that can hide text are outside the BMP.
            Rune.DecodeFromUtf16(path.AsSpan(i), out var rune, out var length);
            if (IsHidden(rune))
            {
                builder ??= new StringBuilder(path.Length + 16);
                builder.Append(path, copied, i - copied).Append(Encode(path.Substring(i, length)));
                copied = i + length;
            }

            i += length;
        }

        return builder is null ? path : builder.Append(path, copied, path.Length - copied).ToString();
    }

    private static bool IsHidden(Rune rune) => Rune.GetUnicodeCategory(rune) is
        System.Globalization.UnicodeCategory.Format or System.Globalization.UnicodeCategory.LineSeparator or System.Globalization.UnicodeCategory.ParagraphSeparator;

    /// <summary>
    /// Makes <paramref name="path"/>, written with escapes (a client's raw path, a template's text, an expression's
    /// result), fit for the request line while keeping what it spells: a valid <c>%XX</c> escape stays as written, so
    /// <c>%3B</c> and <c>%2B</c> do not become <c>;</c> and <c>+</c>, which many upstreams read differently; characters a
    /// path may hold literally stay; anything else (a '%' that starts no escape, non-ASCII, space) becomes UTF-8 percent
    /// escapes. '?' and '#' are kept, for the caller to refuse. Returns <paramref name="path"/> itself when nothing changes.
    /// </summary>
    public static string EncodeKeepingEscapes(string path)
    {
        var first = path.AsSpan().IndexOfAnyExcept(KeptAsWritten);
        while (first >= 0 && IsEscapeAt(path, first))
        {
            var next = path.AsSpan(first + 3).IndexOfAnyExcept(KeptAsWritten);
            first = next < 0 ? -1 : first + 3 + next;
        }

        if (first < 0)
        {
            return path;
        }

        var builder = new StringBuilder(path.Length + 16);
        builder.Append(path, 0, first);
        var rest = path.AsSpan(first);
        for (var i = 0; i < rest.Length; i++)
        {
            if (KeptAsWritten.Contains(rest[i]) || IsEscapeAt(rest, i))
            {
                builder.Append(rest[i]);
                continue;
            }

            var length = char.IsHighSurrogate(rest[i]) && i + 1 < rest.Length && char.IsLowSurrogate(rest[i + 1]) ? 2 : 1;
            builder.Append(Encode(rest.Slice(i, length).ToString()));
            i += length - 1;
        }

        return builder.ToString();
    }

    private static readonly SearchValues<char> KeptAsWritten = SearchValues.Create(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?#");

    private static bool IsEscapeAt(ReadOnlySpan<char> text, int i) =>
        text[i] == '%' && i + 2 < text.Length && IsHex(text[i + 1]) && IsHex(text[i + 2]);

    /// <summary>
    /// Where the decoded text <c>decoded[start..(start + length)]</c> is spelled in <paramref name="raw"/>, the path it
    /// was decoded from by <see cref="TryDecode"/> (so well-formed: every escape valid, non-ASCII only as escapes): the
    /// client's own spelling of a capture. Null when the range does not begin and end on whole characters of the raw path.
    /// </summary>
    public static Range? RawRange(ReadOnlySpan<char> raw, int start, int length)
    {
        var end = start + length;
        var decodedAt = 0;
        int? rawStart = null;
        var i = 0;
        while (true)
        {
            if (decodedAt == start)
            {
                rawStart ??= i;
            }

            if (decodedAt == end && rawStart is { } from)
            {
                return from..i;
            }

            if (i >= raw.Length || decodedAt > end)
            {
                return null;
            }

            if (raw[i] != '%')
            {
                i++;
                decodedAt++;
                continue;
            }

            // One character: a UTF-8 sequence of one to four escaped bytes (four make a surrogate pair).
            var lead = (HexValue(raw[i + 1]) << 4) | HexValue(raw[i + 2]);
            var bytes = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
            i += 3 * bytes;
            decodedAt += bytes == 4 ? 2 : 1;
        }
    }

    /// <summary>
    /// <c>.</c> or <c>..</c>: the segment's name, before any <c>;</c> parameters, since Tomcat, Jetty and Spring resolve
    /// <c>/a/..;x=1/b</c> to <c>/b</c>.
    /// </summary>
    private static bool IsDotSegment(ReadOnlySpan<char> name) => name is "." or "..";

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
