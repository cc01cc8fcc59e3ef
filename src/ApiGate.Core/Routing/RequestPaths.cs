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
        for (var i = 1; i <= raw.Length; i++)
        {
            if (i == raw.Length || raw[i] == '/')
            {
                var length = i - segmentStart;
                if (length is 1 or 2 && raw[segmentStart] == '.' && (length == 1 || raw[segmentStart + 1] == '.'))
                {
                    return false;
                }

                segmentStart = i + 1;
                continue;
            }

            var c = raw[i];
            if (c <= ' ' || c >= 0x7F || c is '%' or '\\')
            {
                return false;
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

            if (c == '%' && i + 2 < path.Length && IsHex(path[i + 1]) && IsHex(path[i + 2]))
            {
                return "the path is encoded more than once (a percent escape remains after decoding)";
            }
        }

        foreach (var range in path.Split('/'))
        {
            var segment = path[range];
            if (segment is "." or "..")
            {
                return "the path contains a dot segment ('.' or '..')";
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

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
