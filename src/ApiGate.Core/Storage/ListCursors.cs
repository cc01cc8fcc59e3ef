using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace ApiGate.Core.Storage;

/// <summary>
/// The text form of a <see cref="ListCursor"/> (the admin API's <c>page[after]</c> and <c>meta.next_cursor</c>, the CLI's
/// <c>--after</c>): base64url of the list's name, the sort value, the id and (on a window) the rows left, one per line.
/// Opaque to clients — only passed back unchanged — and checked on the way in, so a cursor of another list, or an edited
/// one, is bad input rather than a page of something else.
/// </summary>
public static class ListCursors
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string Encode(string kind, ListCursor cursor) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(kind + "\n" + cursor.SortValue + "\n" + cursor.Id
            + (cursor.Left is { } left ? "\n" + left.ToString(CultureInfo.InvariantCulture) : "")));

    /// <summary>
    /// The cursor <paramref name="text"/> holds for the list <paramref name="kind"/>, or null when it holds none. A
    /// <paramref name="windowed"/> list's cursor (<see cref="ListCursor.Left"/>) has whole numbers for its sort value and id
    /// and at least one row left; another list's has no rows left.
    /// </summary>
    public static ListCursor? Decode(string kind, string? text, bool windowed = false)
    {
        if (string.IsNullOrEmpty(text) || text.Length > 4096 || !Base64Url.IsValid(text))
        {
            return null;
        }

        string decoded;
        try
        {
            decoded = Strict.GetString(Base64Url.DecodeFromChars(text));
        }
        catch (DecoderFallbackException)
        {
            return null;
        }

        // A NUL cannot be compared by PostgreSQL (its text type refuses the byte), and no stored value holds one.
        var parts = decoded.Split('\n');
        if (parts.Length != (windowed ? 4 : 3) || parts[0] != kind || parts[2].Length == 0 || decoded.Contains('\0', StringComparison.Ordinal))
        {
            return null;
        }

        if (!windowed)
        {
            return new ListCursor(parts[1], parts[2]);
        }

        return long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out _)
            && long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out _)
            && int.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out var left) && left > 0
            ? new ListCursor(parts[1], parts[2], left)
            : null;
    }
}
