using System.Text;
using AnyAscii;

namespace ApiGate.Core.Text;

/// <summary>Derives URL-safe identifiers from human names: <c>"Users API"</c> → <c>users-api</c>, <c>"Café Crème"</c> → <c>cafe-creme</c>.</summary>
public static class Slug
{
    /// <summary>
    /// Lower-case ASCII letters and digits; other letters spelt in ASCII first (<c>é</c> → <c>e</c>, <c>ß</c> →
    /// <c>ss</c>, <c>東京</c> → <c>dongjing</c>, by the AnyAscii transliteration tables, which need no ICU); every
    /// other run of characters becomes one <c>-</c>.
    /// </summary>
    public static string From(string name)
    {
        var ascii = Ascii(name);
        var builder = new StringBuilder(ascii.Length);
        var pendingDash = false;
        foreach (var c in ascii)
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                if (pendingDash && builder.Length > 0)
                {
                    builder.Append('-');
                }

                pendingDash = false;
                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                pendingDash = true;
            }
        }

        return builder.ToString();
    }

    private static string Ascii(string name)
    {
        foreach (var c in name)
        {
            if (!char.IsAscii(c))
            {
                return name.Transliterate();
            }
        }

        return name;
    }
}
