using System.Buffers;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.WebUtilities;

namespace ApiGate.Gateway.UpstreamHttp;

/// <summary>How the body of an HTTP/1.x response is delimited (RFC 9112 §6.3).</summary>
internal enum Http1BodyFraming
{
    /// <summary>No body: a response to HEAD, or a 204 or 304.</summary>
    None,

    /// <summary><c>Content-Length</c> bytes.</summary>
    Length,

    /// <summary><c>Transfer-Encoding</c> ending in <c>chunked</c>.</summary>
    Chunked,

    /// <summary>Everything until the connection closes.</summary>
    UntilClose,
}

/// <summary>
/// Parses the head of an HTTP/1.x response — status line and header fields — from bytes already read (RFC 9112 §4–§6).
/// Strict where a lenient reading could change what the client is told: a header name that is not a token, a name
/// followed by white space, a CR or NUL inside a line, a status line that is not <c>HTTP/1.x NNN</c>, or
/// <c>Content-Length</c> values that disagree make the response invalid. Lines may end in CRLF or a bare LF, and a
/// header field folded over several lines (obsolete line folding) is read as one value with each line break replaced
/// by spaces, as the runtime's own client does. Values are read as Latin-1, as the runtime's client does.
/// </summary>
internal static class Http1ResponseHead
{
    /// <summary>The most bytes a response head (and the interim 1xx heads before it) may take: the runtime client's default.</summary>
    public const int MaxBytes = 64 * 1024;

    /// <summary>
    /// The length of the head at the start of <paramref name="buffer"/>, through the empty line that ends it, or -1 when
    /// the empty line has not arrived yet. <paramref name="scanned"/> is where the search starts and, on -1, where the
    /// next search may resume once more bytes have arrived (so a head that trickles in is scanned once, not once per read).
    /// </summary>
    public static int FindEnd(ReadOnlySpan<byte> buffer, ref int scanned)
    {
        var offset = scanned;
        while (true)
        {
            var lf = buffer[offset..].IndexOf((byte)'\n');
            if (lf < 0)
            {
                scanned = offset;
                return -1;
            }

            var next = offset + lf + 1;
            if (next < buffer.Length && buffer[next] == (byte)'\n')
            {
                return next + 1;
            }

            if (next + 1 < buffer.Length && buffer[next] == (byte)'\r' && buffer[next + 1] == (byte)'\n')
            {
                return next + 2;
            }

            if (next + 1 >= buffer.Length && (next == buffer.Length || buffer[next] == (byte)'\r'))
            {
                scanned = offset; // the line after this one has not arrived far enough to tell whether it is the empty one
                return -1;
            }

            offset = next;
        }
    }

    /// <summary>The status code on the head's first line (to tell an interim 1xx head from the final one).</summary>
    public static int ReadStatus(ReadOnlySpan<byte> head) => ParseStatusLine(TakeLine(ref head), out _, out _);

    /// <summary>
    /// Sets <paramref name="response"/>'s status, version, reason phrase and headers (content headers on its
    /// <see cref="HttpResponseMessage.Content"/>, which must be set) from <paramref name="head"/> (as found by
    /// <see cref="FindEnd"/>), and says how its body is delimited. <paramref name="contentLength"/> is the body's length
    /// when <see cref="Http1BodyFraming.Length"/>. Throws <see cref="HttpRequestException"/>
    /// (<see cref="HttpRequestError.InvalidResponse"/>) for a head that breaks the rules above.
    /// </summary>
    public static Http1BodyFraming Apply(ReadOnlySpan<byte> head, HttpResponseMessage response, bool isHeadRequest, out long contentLength)
    {
        var status = ParseStatusLine(TakeLine(ref head), out var minor, out var reason);
        response.StatusCode = (HttpStatusCode)status;
        response.Version = minor == 0 ? HttpVersion.Version10 : HttpVersion.Version11;
        if (!reason.IsEmpty && !Ascii.Equals(reason, ReasonPhrases.GetReasonPhrase(status)))
        {
            response.ReasonPhrase = Encoding.Latin1.GetString(reason);
        }

        var content = response.Content;
        long? length = null;
        var chunked = false;
        var transferEncoding = false;
        while (true)
        {
            var lineStart = head;
            var line = TakeLine(ref head);
            if (line.IsEmpty)
            {
                break;
            }

            var name = SplitField(line, out var value);
            if (FoldFollows(head))
            {
                value = Unfold(line[(name.Length + 1)..], lineStart, ref head);
            }
            if (Ascii.EqualsIgnoreCase(name, "Content-Length"u8))
            {
                var parsed = ParseContentLength(value);
                if (length is { } seen && seen != parsed)
                {
                    throw Invalid("The upstream sent two different Content-Length values.");
                }

                length = parsed;
                continue; // set once below, unless a Transfer-Encoding overrides it
            }

            var nameText = Encoding.ASCII.GetString(name);
            var valueText = Encoding.Latin1.GetString(value);
            if (Ascii.EqualsIgnoreCase(name, "Transfer-Encoding"u8))
            {
                transferEncoding = true;
                // The last coding decides (the list may span several fields); empty list elements are not codings.
                if (LastCoding(value) is { IsEmpty: false } last)
                {
                    chunked = Ascii.EqualsIgnoreCase(last, "chunked"u8);
                }
            }

            if (!response.Headers.TryAddWithoutValidation(nameText, valueText))
            {
                content.Headers.TryAddWithoutValidation(nameText, valueText);
            }
        }

        contentLength = 0;
        var framing = isHeadRequest || status is 204 or 304 ? Http1BodyFraming.None
            : transferEncoding ? (chunked ? Http1BodyFraming.Chunked : Http1BodyFraming.UntilClose)
            : length is not null ? Http1BodyFraming.Length
            : Http1BodyFraming.UntilClose;
        // With a Transfer-Encoding the Content-Length is wrong by definition (RFC 9112 §6.3): it is dropped, never passed on.
        if (length is { } declared && !transferEncoding)
        {
            content.Headers.ContentLength = declared;
            contentLength = declared;
        }

        return framing;
    }

    /// <summary>
    /// Reads the next line of <paramref name="rest"/> (without its CRLF or LF) and moves past it. A CR or NUL inside
    /// the line, or a head without a final line break, is invalid.
    /// </summary>
    public static ReadOnlySpan<byte> TakeLine(ref ReadOnlySpan<byte> rest)
    {
        var lf = rest.IndexOf((byte)'\n');
        if (lf < 0)
        {
            throw Invalid("The upstream's response head is not terminated by a line break.");
        }

        var line = rest[..lf];
        rest = rest[(lf + 1)..];
        return LineContent(line);
    }

    /// <summary>A line up to its LF without the CR before it; a CR or NUL anywhere else in it is invalid.</summary>
    public static ReadOnlySpan<byte> LineContent(ReadOnlySpan<byte> line)
    {
        if (!line.IsEmpty && line[^1] == (byte)'\r')
        {
            line = line[..^1];
        }

        if (line.IndexOfAny((byte)'\r', (byte)0) >= 0)
        {
            throw Invalid("The upstream's response contains a CR or NUL inside a line.");
        }

        return line;
    }

    /// <summary>
    /// Splits a header field line into name (returned) and value (optional white space around the value removed). The name must
    /// be a token directly followed by the colon; a line starting with white space is refused (the head joins folded lines
    /// first, <see cref="Apply"/>; in trailers folding is refused).
    /// </summary>
    public static ReadOnlySpan<byte> SplitField(ReadOnlySpan<byte> line, out ReadOnlySpan<byte> value)
    {
        var colon = line.IndexOf((byte)':');
        if (colon <= 0)
        {
            throw Invalid(line[0] is (byte)' ' or (byte)'\t'
                ? "The upstream sent a folded header line (obsolete line folding is not accepted)."
                : "The upstream sent a header line without a name and a colon.");
        }

        var name = line[..colon];
        foreach (var b in name)
        {
            if (!IsTokenChar(b))
            {
                throw Invalid("The upstream sent a header name that is not a token (white space or a separator in it).");
            }
        }

        value = line[(colon + 1)..].Trim(" \t"u8);
        return name;
    }

    /// <summary>Whether the next line of the head continues the field before it (obsolete line folding, RFC 9112 §5.2).</summary>
    private static bool FoldFollows(ReadOnlySpan<byte> rest) => !rest.IsEmpty && rest[0] is (byte)' ' or (byte)'\t';

    /// <summary>
    /// The value of a folded field: <paramref name="first"/> (the value on the field's own line) and each continuation
    /// line, every CR and LF of the line breaks between them replaced by a space and the white space around them kept,
    /// trimmed at both ends — what the runtime's client (the pooled one of <c>http</c> routes) makes of it, so every
    /// route kind passes on the same value. <paramref name="lineStart"/> is the head from the field's line on;
    /// <paramref name="rest"/> is moved past the continuation lines.
    /// </summary>
    private static byte[] Unfold(scoped ReadOnlySpan<byte> first, scoped ReadOnlySpan<byte> lineStart, ref ReadOnlySpan<byte> rest)
    {
        var unfolded = new ArrayBufferWriter<byte>();
        unfolded.Write(first);
        do
        {
            var taken = lineStart[..(lineStart.Length - rest.Length)];
            unfolded.Write(taken.EndsWith("\r\n"u8) ? "  "u8 : " "u8);
            lineStart = rest;
            unfolded.Write(TakeLine(ref rest));
        }
        while (FoldFollows(rest));

        return unfolded.WrittenSpan.Trim(" \t"u8).ToArray();
    }

    private static int ParseStatusLine(ReadOnlySpan<byte> line, out int minor, out ReadOnlySpan<byte> reason)
    {
        // HTTP-version SP 3DIGIT [ SP reason-phrase ]; a missing reason phrase is accepted, as by most clients.
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || line[7] is not ((byte)'0' or (byte)'1') || line[8] != (byte)' '
            || !char.IsAsciiDigit((char)line[9]) || !char.IsAsciiDigit((char)line[10]) || !char.IsAsciiDigit((char)line[11])
            || (line.Length > 12 && line[12] != (byte)' '))
        {
            throw Invalid("The upstream's status line is not 'HTTP/1.x NNN reason'.");
        }

        minor = line[7] - '0';
        var status = ((line[9] - '0') * 100) + ((line[10] - '0') * 10) + (line[11] - '0');
        if (status < 100)
        {
            throw Invalid("The upstream's status code is below 100.");
        }

        reason = line.Length > 13 ? line[13..] : default;
        return status;
    }

    /// <summary>Digits only; a list of equal values (<c>5, 5</c>) counts as one, as RFC 9110 §8.6 allows.</summary>
    private static long ParseContentLength(ReadOnlySpan<byte> value)
    {
        long? result = null;
        foreach (var range in value.Split((byte)','))
        {
            var item = value[range].Trim(" \t"u8);
            if (item.IsEmpty || item.Length > 18 || item.IndexOfAnyExceptInRange((byte)'0', (byte)'9') >= 0)
            {
                throw Invalid("The upstream sent a Content-Length that is not a number.");
            }

            long parsed = 0;
            foreach (var digit in item)
            {
                parsed = (parsed * 10) + (digit - '0');
            }

            if (result is { } earlier && earlier != parsed)
            {
                throw Invalid("The upstream sent two different Content-Length values.");
            }

            result = parsed;
        }

        return result!.Value;
    }

    /// <summary>
    /// The last element of a comma-separated list, or empty when it has none: empty elements (<c>chunked, </c>) are
    /// skipped, as RFC 9110 §5.6.1.2 has recipients do.
    /// </summary>
    private static ReadOnlySpan<byte> LastCoding(ReadOnlySpan<byte> value)
    {
        while (true)
        {
            var comma = value.LastIndexOf((byte)',');
            var last = (comma < 0 ? value : value[(comma + 1)..]).Trim(" \t"u8);
            if (!last.IsEmpty || comma < 0)
            {
                return last;
            }

            value = value[..comma];
        }
    }

    /// <summary>RFC 9110 §5.6.2 tchar.</summary>
    private static bool IsTokenChar(byte b) =>
        char.IsAsciiLetterOrDigit((char)b) || b is (byte)'!' or (byte)'#' or (byte)'$' or (byte)'%' or (byte)'&' or (byte)'\'' or (byte)'*'
            or (byte)'+' or (byte)'-' or (byte)'.' or (byte)'^' or (byte)'_' or (byte)'`' or (byte)'|' or (byte)'~';

    internal static HttpRequestException Invalid(string message) => new(HttpRequestError.InvalidResponse, message);
}
