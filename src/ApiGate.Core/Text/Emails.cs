using System.Collections.Frozen;
using System.Globalization;
using System.Text;

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
    /// Why <paramref name="email"/> cannot be accepted as one of two spellings of an address, or null: for holding a
    /// combining mark (Unicode category Mn, e.g. U+0301 after an <c>e</c>: it looks like <c>é</c> but is another string),
    /// or for not being in Unicode normalization form NFKC (a fullwidth <c>ａ</c>, a ligature such as <c>ﬁ</c>: it looks
    /// like, or is, an address written in plain letters), or for an ideographic full stop (U+3002), which IDNA reads as the
    /// '.' between a domain's labels, or for a final '.' (an absolute domain, the same one), or for a domain written in punycode (<c>xn--…</c>), the ASCII form of a Unicode
    /// domain, or for a dotted capital I (U+0130, <c>İ</c>), which the stores lower-case differently. Each would make two users of one address, or a look-up that
    /// misses. Refused rather than normalized, so that what is stored is what was typed; addresses stored before this
    /// rule are kept as they are. The message names the character and its position, or the form to write; the caller
    /// adds the field or a sentence's start.
    /// </summary>
    public static string? SpellingProblem(string email)
    {
        for (var i = 0; i < email.Length; i++)
        {
            // By code point: a variation selector of the supplement (U+E0100–U+E01EF) is a combining mark that shows
            // nothing, written as a surrogate pair whose halves on their own are not marks.
            if (CharUnicodeInfo.GetUnicodeCategory(email, i) == UnicodeCategory.NonSpacingMark)
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"contains a combining mark (U+{CodePoints.At(email, i):X4} at position {i + 1}): type each accented letter as one character, so that the address has a single spelling");
            }
        }

        // U+0130 has no lower-case letter of its own: Canonical keeps it as it is (char.ToLowerInvariant leaves it), SQLite's
        // NOCASE folds only ASCII, and PostgreSQL's lower() folds it by the database's locale, to 'i' or not at all. So
        // ALİCE@… and alice@… would be two users on one engine and one on the other.
        if (email.IndexOf(DottedCapitalI) is >= 0 and var dotted)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"contains a dotted capital I (U+0130 at position {dotted + 1}), which has no lower-case form that every store agrees on, so the address would not have a single spelling");
        }

        // U+3002 is in NFKC, yet IDNA (which mail software applies to a domain) reads it as a '.', like the fullwidth and
        // halfwidth full stops NFKC already changes: a@sub。example.com is delivered to a@sub.example.com.
        if (email.IndexOf(IdeographicFullStop) is >= 0 and var stop)
        {
            return string.Create(CultureInfo.InvariantCulture,
                $"contains an ideographic full stop (U+3002 at position {stop + 1}), which mail software reads as '.': write the address with '.'");
        }

        // A final '.' makes the domain absolute, the same domain as without it: a@example.com. is a@example.com.
        if (WithoutFinalDot(email) is { } relative)
        {
            return $"ends with '.', which names the same domain as without it: write it as '{relative}'";
        }

        if (PunycodeProblem(email) is { } punycode)
        {
            return punycode;
        }

        return NfkcOf(email) is { } plain
            ? $"is not in Unicode normalization form NFKC (it has a look-alike character such as a fullwidth letter): write it as '{plain.Replace(IdeographicFullStop, '.')}'"
            : null;
    }

    /// <summary>
    /// Why the domain of <paramref name="email"/>, written in punycode (a label <c>xn--…</c>), cannot be accepted, or null
    /// when no label is: mail to <c>bob@xn--bcher-kva.example</c> goes to <c>bob@bücher.example</c>, so both spellings
    /// would make two users of one mailbox; the Unicode one is the one kept (the mail library reads an address in it).
    /// </summary>
    private static string? PunycodeProblem(string email)
    {
        var at = email.LastIndexOf('@');
        if (at < 0 || email.IndexOf("xn--", at, StringComparison.OrdinalIgnoreCase) < 0)
        {
            return null;
        }

        var domain = email[(at + 1)..];
        if (!domain.Split('.').Any(label => label.StartsWith("xn--", StringComparison.OrdinalIgnoreCase)))
        {
            return null;
        }

        return WithUnicodeDomain(email, at) is { } unicode
            ? $"has its domain in punycode ('{domain}'): write it as '{unicode}', the one spelling an address is kept in"
            : $"has a domain label starting 'xn--' that is not valid punycode ('{domain}')";
    }

    /// <summary><paramref name="email"/> with its domain (after the '@' at <paramref name="at"/>) in Unicode, or null when it is not valid punycode.</summary>
    private static string? WithUnicodeDomain(string email, int at)
    {
        try
        {
            return email[..(at + 1)] + Idn.GetUnicode(email[(at + 1)..].ToLowerInvariant());
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    /// <summary><paramref name="email"/> without the final '.' (or '.'s) of an absolute domain, or null when it has none.</summary>
    private static string? WithoutFinalDot(string email) =>
        email.Length > 1 && email[^1] == '.' && email.IndexOf('@') is >= 0 and var at && at < email.Length - 2 ? email.TrimEnd('.') : null;

    /// <summary>
    /// The spelling of the same mailbox that <see cref="SpellingProblem"/> accepts, made by the changes its messages ask
    /// for (look-alike characters in NFKC, an ideographic full stop as '.', no final '.', the domain in Unicode rather than
    /// punycode): the one sign-up would have stored the mailbox under. Null when <paramref name="email"/> is accepted as
    /// it is, or when no such change makes it acceptable (a combining mark, a dotted capital I: nothing says which
    /// mailbox those are). For finding an account under any spelling of its address, never for storing one.
    /// </summary>
    public static string? KeptSpelling(string email)
    {
        if (SpellingProblem(email) is null)
        {
            return null;
        }

        var kept = (NfkcOf(email) ?? email).Replace(IdeographicFullStop, '.');
        kept = WithoutFinalDot(kept) ?? kept;
        if (kept.LastIndexOf('@') is >= 0 and var at && kept.IndexOf("xn--", at, StringComparison.OrdinalIgnoreCase) >= 0)
        {
            kept = WithUnicodeDomain(kept, at) ?? kept;
        }

        return SpellingProblem(kept) is null ? kept : null;
    }

    /// <summary>
    /// The key one mailbox is stored and looked up under, whatever spelling of it an address has: the address in the
    /// spelling <see cref="SpellingProblem"/> accepts (<see cref="KeptSpelling"/>: look-alike characters in NFKC, an
    /// ideographic full stop as '.', no final '.', the domain in Unicode) with its ASCII letters lower-cased, as the stores
    /// compare addresses. <c>bob@XN--BCHER-KVA.example</c>, <c>bob@bücher.example.</c>, <c>bob@bücher。example</c> and
    /// <c>Bob@bücher.example</c> have one key, <c>bob@bücher.example</c>. An address no change makes acceptable (a
    /// combining mark, a dotted capital I) is its own key. Kept with each user (<c>users.email_key</c>), so an account
    /// stored before the spelling rules is found by one indexed look-up from the spelling its owner types now.
    /// </summary>
    public static string Key(string email)
    {
        var canonical = Canonical(email);
        var kept = KeptSpelling(canonical) ?? canonical;
        return string.Create(kept.Length, kept, static (span, text) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = char.IsAsciiLetterUpper(text[i]) ? (char)(text[i] | 0x20) : text[i];
            }
        });
    }

    private static readonly IdnMapping Idn = new();

    /// <summary>U+0130 (İ), whose lower-case form depends on the engine and its locale (see <see cref="SpellingProblem"/>).</summary>
    private const char DottedCapitalI = '\u0130';

    /// <summary>U+3002, which IDNA maps to '.' (a label separator), while NFKC leaves it as it is.</summary>
    private const char IdeographicFullStop = '\u3002';

    /// <summary>
    /// <paramref name="email"/> with every character that NFKC changes on its own replaced by what NFKC makes of it, or
    /// null when it holds none. From a table (<c>NfkcMappings.txt</c>) rather than <see cref="string.Normalize()"/>,
    /// which does nothing in this build (invariant globalization, no ICU). Character by character: sequences that only
    /// compose together (Hangul jamo, some vowel signs) are not changed; combining marks are refused before this.
    /// </summary>
    private static string? NfkcOf(string email)
    {
        if (Ascii.IsValid(email))
        {
            return null; // NFKC leaves ASCII as it is: the usual address never loads the table
        }

        StringBuilder? plain = null;
        var at = 0;
        foreach (var rune in email.EnumerateRunes())
        {
            if (NfkcMappings.Value.TryGetValue(rune.Value, out var mapped))
            {
                (plain ??= new StringBuilder(email, 0, at, email.Length)).Append(mapped);
            }
            else
            {
                plain?.Append(email, at, rune.Utf16SequenceLength);
            }

            at += rune.Utf16SequenceLength;
        }

        return plain?.ToString();
    }

    private static readonly Lazy<FrozenDictionary<int, string>> NfkcMappings = new(() =>
    {
        using var stream = typeof(Emails).Assembly.GetManifestResourceStream("ApiGate.Core.Text.NfkcMappings.txt")!;
        using var reader = new StreamReader(stream);
        var mappings = new Dictionary<int, string>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length > 0 && line[0] != '#')
            {
                var codePoints = line.Split(' ').Select(hex => int.Parse(hex, NumberStyles.HexNumber, CultureInfo.InvariantCulture)).ToArray();
                mappings[codePoints[0]] = string.Concat(codePoints[1..].Select(char.ConvertFromUtf32));
            }
        }

        return mappings.ToFrozenDictionary();
    });

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
