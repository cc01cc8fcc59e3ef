using System.Buffers;
using System.Globalization;

namespace ApiGate.Core.Transforms;

/// <summary>
/// The characters no header value may hold (RFC 9110 §5.5): C0 control characters but the tab, DEL and C1. A NUL, an
/// escape or a DEL written into a transform's header value was stored and sent to the backend as it was (only CR and LF
/// were refused), where a C-based server may end the value at the NUL or read it otherwise than the gateway meant.
/// In a response transform a character outside ASCII is refused as well, since the server never sends one. Refused when
/// written; a transform stored before that is served without that operation.
/// </summary>
public static class HeaderValueCharacters
{
    /// <summary>The set, for one vectorised scan; the same as the rule the gateway holds a client's own header values to.</summary>
    public static readonly SearchValues<char> Forbidden = SearchValues.Create(
        [.. Enumerable.Range(0, 0x20).Where(i => i != '\t').Select(i => (char)i), (char)0x7f, .. Enumerable.Range(0x80, 0x20).Select(i => (char)i)]);

    // Printable ASCII and the tab: what Kestrel writes into a response header.
    private static readonly SearchValues<char> Sendable = SearchValues.Create(
        ['\t', .. Enumerable.Range(' ', '~' - ' ' + 1).Select(i => (char)i)]);

    /// <summary>Whether <paramref name="value"/> holds a character no header value may hold.</summary>
    public static bool IsForbiddenIn(string value) => value.AsSpan().ContainsAny(Forbidden);

    /// <summary>
    /// Why <paramref name="operations"/> may not be written, naming its first added or set value with such a character;
    /// null when none has one. With <paramref name="response"/>, a character outside ASCII is refused too: the server
    /// sends only ASCII in a response header, so a value written with one (<c>"X-Served-By": "René"</c>) was never sent.
    /// </summary>
    public static string? ProblemIn(string field, NameValueOperations operations, bool response = false)
    {
        foreach (var (kind, pairs) in new[] { ("set", operations.SetValues), ("add", operations.AddValues) })
        {
            foreach (var (name, value) in pairs)
            {
                var source = value.Source;
                var at = source.AsSpan().IndexOfAny(Forbidden);
                if (at >= 0)
                {
                    return $"{field}.{kind}.{name}: header values cannot contain control characters ({CharacterAt(source, at)})";
                }

                at = response ? source.AsSpan().IndexOfAnyExcept(Sendable) : -1;
                if (at >= 0)
                {
                    return $"{field}.{kind}.{name}: a response header value can hold only ASCII characters, which the server sends ({CharacterAt(source, at)})";
                }
            }
        }

        return null;
    }

    private static string CharacterAt(string text, int at) => string.Create(CultureInfo.InvariantCulture,
        $"U+{Text.CodePoints.At(text, at):X4} at position {at + 1}");
}
