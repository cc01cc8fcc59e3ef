using System.Buffers;
using System.Globalization;

namespace ApiGate.Core.Management;

/// <summary>
/// The rule for names and free-text fields (names, descriptions, emails, labels): no control characters — C0
/// (NUL, ESC, tab, line breaks, …), DEL and C1, and Unicode's own line and paragraph separators (U+2028, U+2029), which
/// break a line wherever they are shown — nor the Unicode bidirectional overrides and isolates (U+202A–U+202E,
/// U+2066–U+2069), which make a name print as something else in a table or log ("Trojan Source"); and at most
/// <see cref="MaxLength"/> characters. Such a character has no business in a name, breaks log lines and tables, and
/// can drive a terminal that prints it. Every management service checks its fields here, so the CLI and the admin API
/// refuse the same values.
/// </summary>
public static class TextFields
{
    /// <summary>The longest text field (a credential value included): far beyond any real name, description or token.</summary>
    public const int MaxLength = 8192;

    /// <summary>
    /// The longest name that is also a unique key (an upstream's, a route's and its slug, an entitlement's, a linked
    /// JWT subject): far beyond any real one, and short enough for every engine's index on it. PostgreSQL's B-tree holds
    /// at most 2,704 bytes per entry: a longer name was stored by SQLite but failed there as 503 store_unavailable.
    /// </summary>
    public const int MaxNameLength = 255;

    /// <summary>
    /// The most entries a list-valued route field may hold (<c>cors_origins</c>, <c>cors_headers</c>,
    /// <c>cors_expose_headers</c>, the <c>headers</c> a request must carry, <c>request_transform.conditions</c>): far
    /// beyond any real policy. Without it a
    /// 1 MiB admin body stored tens of thousands of them, and each request through the route was checked against them
    /// all, or carried them all in a CORS response header.
    /// </summary>
    public const int MaxListEntries = 100;

    /// <summary>
    /// Null when <paramref name="count"/> entries fit <see cref="MaxListEntries"/> or are no more than the
    /// <paramref name="stored"/> ones (a route stored with more before the bound can still be changed and its list
    /// shortened step by step); else a validation error naming the field.
    /// </summary>
    public static ManagementError? CheckCount(string field, int count, int stored = 0) =>
        count > MaxListEntries && count > stored
            ? new ManagementError(ManagementErrorKind.Validation, field, Text.ListBound.Exceeded(count, MaxListEntries))
            : null;

    /// <summary>Null when <paramref name="slug"/>, the id in URLs made from a name, fits the same bound as the name (spelling some letters in ASCII makes it longer); else a validation error naming the name.</summary>
    public static ManagementError? SlugTooLong(string slug) =>
        slug.Length > MaxNameLength
            ? new ManagementError(ManagementErrorKind.Validation, "name", string.Create(CultureInfo.InvariantCulture, $"the id made from the name (spelt in ASCII) is longer than {MaxNameLength} characters: give a shorter name"))
            : null;

    /// <summary>Null when <paramref name="name"/> (null = not given) is at most <see cref="MaxNameLength"/> characters; else a validation error naming the field.</summary>
    public static ManagementError? CheckName(string field, string? name) =>
        name?.Length > MaxNameLength
            ? new ManagementError(ManagementErrorKind.Validation, field, string.Create(CultureInfo.InvariantCulture, $"is longer than {MaxNameLength} characters"))
            : null;

    private static readonly SearchValues<char> ControlCharacters = Text.ControlCharacters.Set;

    /// <summary>
    /// Whether <paramref name="c"/> is one of the characters this rule refuses (control characters, line and paragraph
    /// separators, bidirectional overrides and isolates): for text from elsewhere that is kept and shown rather than
    /// refused, such as a webhook receiver's answer, which replaces them.
    /// </summary>
    public static bool IsControl(char c) => ControlCharacters.Contains(c);

    /// <summary>The position of the first character <see cref="IsControl"/> says is one, or -1 (one vectorised scan).</summary>
    public static int IndexOfControl(ReadOnlySpan<char> text) => text.IndexOfAny(ControlCharacters);

    /// <summary>
    /// The position of the first invisible formatting character (Unicode category Cf: zero-width space and joiners,
    /// soft hyphen, word joiner, byte-order mark, the tag characters U+E0000–U+E007F, …) in <paramref name="value"/>, or
    /// -1. Refused in names (<see cref="CheckInvisible"/>) and in an email address: <c>alice@example.test</c> with a
    /// zero-width space reads as an existing address while the mail goes to another (the domain's punycode form), so it
    /// would be confirmed by someone else. Read by code point, not by UTF-16 unit: the tag characters are outside the
    /// Basic Multilingual Plane, and each half of their surrogate pair on its own is not a format character.
    /// </summary>
    /// <remarks>
    /// Besides category Cf, the characters Unicode lists as default-ignorable (shown as nothing) in other categories —
    /// U+034F COMBINING GRAPHEME JOINER, the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0, the Khmer U+17B4 and
    /// U+17B5, the Mongolian variation selectors, the unassigned U+E0080–U+E0FFF — and U+2800 BRAILLE PATTERN BLANK,
    /// which prints as a space that is not one. A variation selector (U+FE00–U+FE0F, U+E0100–U+E01EF) counts only where
    /// it selects nothing: at the start, after an ASCII character (<c>ad\uFE00min</c> reads as <c>admin</c>) or after
    /// another invisible one; after any other character it picks that character's form (the emoji in <c>I ❤️ APIs</c>,
    /// a variant of a CJK ideograph) and is kept.
    /// </remarks>
    public static int IndexOfInvisible(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (IsInvisibleAt(value, i))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsInvisibleAt(string value, int i)
    {
        if (CharUnicodeInfo.GetUnicodeCategory(value, i) == UnicodeCategory.Format)
        {
            return true;
        }

        return Text.CodePoints.At(value, i) switch
        {
            0x034F or 0x115F or 0x1160 or 0x17B4 or 0x17B5 or (>= 0x180B and <= 0x180D) or 0x180F or 0x2800 or 0x3164 or 0xFFA0 => true,
            var code when IsVariationSelector(code) => !SelectsAForm(value, i),
            >= 0xE0080 and <= 0xE0FFF => true,
            _ => false,
        };

        static bool IsVariationSelector(int code) => code is (>= 0xFE00 and <= 0xFE0F) or (>= 0xE0100 and <= 0xE01EF);

        // A variation selector after a visible character other than ASCII (and other than a selector): it chooses that
        // character's form.
        static bool SelectsAForm(string value, int i)
        {
            var previous = i >= 2 && char.IsSurrogatePair(value[i - 2], value[i - 1]) ? i - 2 : i - 1;
            return previous >= 0 && value[previous] > '\u007F' && !char.IsWhiteSpace(value[previous]) && !char.IsLowSurrogate(value[previous])
                   && !IsVariationSelector(Text.CodePoints.At(value, previous)) && !IsInvisibleAt(value, previous);
        }
    }

    /// <summary>
    /// <see cref="IndexOfInvisible"/> for a name, except U+200C ZERO WIDTH NON-JOINER and U+200D ZERO WIDTH JOINER between
    /// two letters (or a letter's combining marks): Persian, Arabic and the Indic scripts spell words with them there, so a
    /// person's or a team's name in those scripts needs them. Anywhere else (at an end, beside a space, a digit, Latin
    /// punctuation, another joiner) they only hide a difference, and are refused like the others.
    /// </summary>
    public static int IndexOfInvisibleInName(string name)
    {
        for (var i = 0; i < name.Length; i++)
        {
            if (!IsInvisibleAt(name, i))
            {
                continue;
            }

            if (name[i] is not ('\u200C' or '\u200D') || i == 0 || i == name.Length - 1 || !IsLetterOrMark(name[i - 1]) || !IsLetterOrMark(name[i + 1]))
            {
                return i;
            }
        }

        return -1;

        static bool IsLetterOrMark(char c) => char.IsLetter(c) && c > '\u007F'
            || CharUnicodeInfo.GetUnicodeCategory(c) is UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark;
    }

    /// <summary>
    /// Null when the name <paramref name="name"/> (null = not given) holds no invisible formatting character
    /// (<see cref="IndexOfInvisibleInName"/>: U+200B ZERO WIDTH SPACE, U+200C and U+200D other than between two letters of a
    /// script that writes them, U+2060 WORD JOINER, U+FEFF, U+00AD SOFT HYPHEN, …), or is the <paramref name="stored"/> name sent back unchanged (a read-modify-write of a row stored
    /// before this rule); else a validation error naming the field. A name is how a row is told apart in lists, logs and
    /// commands: <c>admin</c> and <c>adm\u200Bin</c> (a zero-width space in it) would read as one name and be two. Free text
    /// (descriptions) keeps them: emoji sequences and some scripts are written with joiners.
    /// </summary>
    /// <remarks>The message names the character and its position, never the value (as <see cref="Check(string, string?)"/>).</remarks>
    public static ManagementError? CheckInvisible(string field, string? name, string? stored = null)
    {
        if (name is null || string.Equals(name.Trim(), stored, StringComparison.Ordinal))
        {
            return null;
        }

        var at = IndexOfInvisibleInName(name);
        return at < 0
            ? null
            : new ManagementError(ManagementErrorKind.Validation, field,
                string.Create(CultureInfo.InvariantCulture, $"must not contain invisible characters (U+{Text.CodePoints.At(name, at):X4} at position {at + 1})"));
    }

    /// <summary>Null when <paramref name="value"/> (null = not given) holds no control character; else a validation error naming the field.</summary>
    /// <remarks>The message names the character and its position, never the value (the field may be a credential).</remarks>
    public static ManagementError? Check(string field, string? value)
    {
        if (value?.Length > MaxLength)
        {
            return new ManagementError(ManagementErrorKind.Validation, field, string.Create(CultureInfo.InvariantCulture, $"is longer than {MaxLength} characters"));
        }

        var at = value is null ? -1 : value.AsSpan().IndexOfAny(ControlCharacters);
        return at < 0
            ? null
            : new ManagementError(ManagementErrorKind.Validation, field,
                string.Create(CultureInfo.InvariantCulture, $"must not contain control characters (U+{(int)value![at]:X4} at position {at + 1})"));
    }

    /// <summary>
    /// Why <paramref name="url"/> cannot be a URL as written, or null: a control character or a space anywhere (the URL
    /// parser would quietly percent-encode a line break into the path sent upstream). The message names the character and
    /// its position, not the URL.
    /// </summary>
    public static string? UrlProblem(string url)
    {
        if (url.Length > MaxLength)
        {
            return string.Create(CultureInfo.InvariantCulture, $"is longer than {MaxLength} characters");
        }

        var at = url.AsSpan().IndexOfAny(ControlCharacters);
        at = at < 0 ? url.IndexOf(' ', StringComparison.Ordinal) : at;
        return at < 0
            ? null
            : string.Create(CultureInfo.InvariantCulture, $"must not contain control characters or spaces (U+{(int)url[at]:X4} at position {at + 1}); percent-encode them");
    }

    /// <summary>The first field of <paramref name="fields"/> that fails <see cref="Check"/>, or null.</summary>
    public static ManagementError? Check(params ReadOnlySpan<(string Field, string? Value)> fields)
    {
        foreach (var (field, value) in fields)
        {
            if (Check(field, value) is { } error)
            {
                return error;
            }
        }

        return null;
    }
}
