using System.Text;

namespace ApiGate.Core.Transforms;

/// <summary>
/// Masks a value for display (SPEC §5.2): an email keeps the first character of its local part and domain and
/// the top-level domain (<c>user@domain.com</c> → <c>u***@d***.com</c>); any other text keeps its first and last
/// character (<c>secret</c> → <c>s***t</c>); one or two characters become <c>***</c>. A character is a Unicode scalar:
/// one outside the BMP (an emoji, a CJK extension ideograph) is two UTF-16 units and is kept whole, never half of it,
/// which the body's encoder would write as U+FFFD.
/// </summary>
public static class Masking
{
    public static string Mask(string value)
    {
        var at = value.IndexOf('@');
        if (at > 0 && at < value.Length - 1)
        {
            var local = value[..at];
            var domain = value[(at + 1)..];
            var dot = domain.LastIndexOf('.');
            var maskedDomain = dot > 0 ? First(domain) + "***" + domain[dot..] : First(domain) + "***";
            return First(local) + "***@" + maskedDomain;
        }

        var first = First(value);
        var last = Last(value);
        return first.Length + last.Length >= value.Length ? "***" : first + "***" + last;

        // A lone surrogate (from a JSON "\ud800") is one unit, as before; an empty part has no first or last character.
        static string First(string part)
        {
            _ = Rune.DecodeFromUtf16(part, out _, out var length);
            return part[..length];
        }

        static string Last(string part)
        {
            _ = Rune.DecodeLastFromUtf16(part, out _, out var length);
            return part[^length..];
        }
    }
}
