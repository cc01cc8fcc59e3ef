using System.Text;

namespace ApiGate.Core.Text;

/// <summary>Derives URL-safe identifiers from human names: <c>"Users API"</c> → <c>users-api</c>.</summary>
public static class Slug
{
    /// <summary>Lower-case ASCII letters and digits; every other run of characters becomes one <c>-</c>.</summary>
    public static string From(string name)
    {
        var builder = new StringBuilder(name.Length);
        var pendingDash = false;
        foreach (var c in name)
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
}
