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
}
