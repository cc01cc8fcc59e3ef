namespace ApiGate.Core.Text;

/// <summary>Shortening text for storage without leaving half a character behind.</summary>
public static class TextCut
{
    /// <summary>
    /// The first <paramref name="max"/> characters, one fewer rather than half a surrogate pair (a lone surrogate is not
    /// text: PostgreSQL refuses to store it, SQLite keeps a replacement character).
    /// </summary>
    public static string AtMost(string text, int max) =>
        text.Length <= max ? text : text[..(char.IsHighSurrogate(text[max - 1]) ? max - 1 : max)];

    /// <summary>
    /// <paramref name="text"/> cut to at most <paramref name="max"/> characters (<see cref="AtMost"/>) as one line that
    /// every store keeps and no log line or page is broken by: control characters (NUL included, which PostgreSQL refuses
    /// in text), line and paragraph separators and bidirectional overrides (which would break or reorder a log line or
    /// the console's view of it), and lone surrogates (which PostgreSQL refuses too) become spaces. For what a remote
    /// party wrote — an endpoint's answer, a client library's message quoting it — before it is stored or logged.
    /// </summary>
    public static string OneLine(string text, int max)
    {
        var cut = AtMost(text, max);
        return string.Create(cut.Length, cut, static (line, text) =>
        {
            for (var i = 0; i < text.Length; i++)
            {
                var c = text[i];
                var paired = char.IsHighSurrogate(c) ? i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])
                    : !char.IsLowSurrogate(c) || (i > 0 && char.IsHighSurrogate(text[i - 1]));
                line[i] = !paired || ControlCharacters.Is(c) ? ' ' : c;
            }
        });
    }
}
