using System.Buffers;

namespace ApiGate.Core.Text;

/// <summary>
/// The characters no stored name, log line or page may hold as they are: C0 and C1 control characters (NUL, escape, CR,
/// LF, …), DEL, line and paragraph separators, and bidirectional overrides and isolates, which break a line or reorder
/// the text around them.
/// </summary>
public static class ControlCharacters
{
    /// <summary>The set, for one vectorised scan (<c>IndexOfAny</c>).</summary>
    public static readonly SearchValues<char> Set = SearchValues.Create(
        [.. Enumerable.Range(0, 0x20).Select(i => (char)i), (char)0x7f, .. Enumerable.Range(0x80, 0x20).Select(i => (char)i),
         (char)0x2028, (char)0x2029, .. Enumerable.Range(0x202a, 5).Select(i => (char)i), .. Enumerable.Range(0x2066, 4).Select(i => (char)i)]);

    /// <summary>Whether <paramref name="c"/> is one of them.</summary>
    public static bool Is(char c) => Set.Contains(c);
}
