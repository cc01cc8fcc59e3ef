namespace ApiGate.Core.Transforms;

/// <summary>
/// Masks a value for display (SPEC §5.2): an email keeps the first character of its local part and domain and
/// the top-level domain (<c>user@domain.com</c> → <c>u***@d***.com</c>); any other text keeps its first and last
/// character (<c>secret</c> → <c>s***t</c>); one or two characters become <c>***</c>.
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
            var maskedDomain = dot > 0 ? domain[0] + "***" + domain[dot..] : First(domain);
            return First(local) + "@" + maskedDomain;
        }

        return value.Length <= 2 ? "***" : value[0] + "***" + value[^1];

        static string First(string part) => part.Length == 0 ? "***" : part[0] + "***";
    }
}
