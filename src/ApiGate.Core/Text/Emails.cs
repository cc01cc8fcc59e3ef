using System.Globalization;

namespace ApiGate.Core.Text;

/// <summary>
/// The one form an email address is stored and looked up in, so that both store engines compare addresses alike:
/// trimmed, with every non-ASCII letter lower-cased (<c>Élodie@Example.com</c> → <c>élodie@Example.com</c>). ASCII
/// letters keep the case they were typed in, for display; the stores compare those without regard to case (SQLite's
/// <c>NOCASE</c>, PostgreSQL's <c>lower()</c>) — but SQLite folds only ASCII, and PostgreSQL folds the rest by its
/// locale, so without this one engine would hold <c>Élodie@…</c> and <c>élodie@…</c> as two users and the other as one.
/// </summary>
public static class Emails
{
    /// <summary>
    /// Why <paramref name="email"/> cannot be accepted for holding a combining mark (Unicode category Mn, e.g. U+0301
    /// after an <c>e</c>), or null. <c>e</c> + U+0301 looks like <c>é</c> but is another string, so one address would
    /// have two spellings: two users, or a look-up that misses. Refused rather than normalized, so that what is stored is
    /// what was typed. The message names the character and its position; the caller adds the field or a sentence's start.
    /// </summary>
    public static string? CombiningMarkProblem(string email)
    {
        for (var i = 0; i < email.Length; i++)
        {
            if (CharUnicodeInfo.GetUnicodeCategory(email[i]) == UnicodeCategory.NonSpacingMark)
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"contains a combining mark (U+{(int)email[i]:X4} at position {i + 1}): type each accented letter as one character, so that the address has a single spelling");
            }
        }

        return null;
    }

    public static string Canonical(string email)
    {
        var trimmed = email.Trim();
        var firstNonAscii = trimmed.AsSpan().IndexOfAnyExceptInRange((char)0, (char)0x7F);
        if (firstNonAscii < 0)
        {
            return trimmed;
        }

        return string.Create(trimmed.Length, (trimmed, firstNonAscii), static (span, state) =>
        {
            state.trimmed.AsSpan().CopyTo(span);
            for (var i = state.firstNonAscii; i < span.Length; i++)
            {
                if (span[i] > 0x7F)
                {
                    span[i] = char.ToLowerInvariant(span[i]);
                }
            }
        });
    }
}
