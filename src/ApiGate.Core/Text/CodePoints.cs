namespace ApiGate.Core.Text;

/// <summary>Characters as messages name them: by code point, not by UTF-16 unit.</summary>
public static class CodePoints
{
    /// <summary>
    /// The code point at <paramref name="index"/> of <paramref name="value"/>: both halves of a surrogate pair read as
    /// one (a tag character is U+E0041, not U+DB40), a lone surrogate as itself. For messages naming a character.
    /// </summary>
    public static int At(string value, int index) =>
        char.IsSurrogatePair(value, index) ? char.ConvertToUtf32(value, index) : value[index];
}
