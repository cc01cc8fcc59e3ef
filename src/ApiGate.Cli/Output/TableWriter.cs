using System.Globalization;
using System.Text;

namespace ApiGate.Cli.Output;

/// <summary>
/// Plain, column-aligned tables for humans (use <c>--json</c> for scripts), aligned by the columns a terminal draws
/// (<see cref="TerminalWidth"/>: a Chinese name takes two a character). Every cell is escaped: a control
/// character in a stored value (names written before they were refused, usage paths) is shown as <c>\x1b</c> and can
/// neither move the cursor nor recolour or erase the terminal; a bidirectional override or isolate (U+202A–U+202E,
/// U+2066–U+2069, which a client can put in a request path) is shown as <c>\u202e</c>, so no value prints as another.
/// </summary>
internal static class TableWriter
{
    private static readonly System.Buffers.SearchValues<char> Escaped = System.Buffers.SearchValues.Create(
        [.. Enumerable.Range(0, 0x20).Select(i => (char)i), (char)0x7f, .. Enumerable.Range(0x80, 0x20).Select(i => (char)i),
         .. Enumerable.Range(0x202a, 5).Select(i => (char)i), .. Enumerable.Range(0x2066, 4).Select(i => (char)i)]);

    public static void Write(TextWriter output, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = rows.Select(r => (IReadOnlyList<string>)[.. r.Select(Escape)]).ToList();
        if (all.Count == 0)
        {
            output.WriteLine("(none)");
            return;
        }

        var widths = headers.Select(TerminalWidth.Of).ToArray();
        foreach (var row in all)
        {
            for (var i = 0; i < widths.Length; i++)
            {
                widths[i] = Math.Max(widths[i], TerminalWidth.Of(row[i]));
            }
        }

        WriteRow(output, headers, widths);
        WriteRow(output, widths.Select(w => new string('-', w)).ToList(), widths);
        foreach (var row in all)
        {
            WriteRow(output, row, widths);
        }
    }

    /// <summary>Two columns: field and value, for a single resource.</summary>
    public static void WriteFields(TextWriter output, IEnumerable<(string Field, string Value)> fields)
    {
        var list = fields.Select(f => (f.Field, Value: Escape(f.Value))).ToList();
        var width = list.Max(f => f.Field.Length);
        foreach (var (field, value) in list)
        {
            output.WriteLine($"{field.PadRight(width)}  {value}");
        }
    }

    private static void WriteRow(TextWriter output, IReadOnlyList<string> cells, int[] widths)
    {
        var parts = new string[cells.Count];
        for (var i = 0; i < cells.Count; i++)
        {
            parts[i] = i == cells.Count - 1 ? cells[i] : TerminalWidth.PadRight(cells[i], widths[i]);
        }

        output.WriteLine(string.Join("  ", parts).TrimEnd());
    }

    /// <summary>
    /// The text with control characters (C0, DEL, C1) and bidirectional overrides written as escapes: <c>\n</c>,
    /// <c>\t</c>, <c>\x1b</c>, <c>\u0085</c>, <c>\u202e</c>. Every line the CLI prints with stored or given text goes through it.
    /// </summary>
    public static string Escape(string? text)
    {
        if (string.IsNullOrEmpty(text) || !text.AsSpan().ContainsAny(Escaped))
        {
            return text ?? "";
        }

        var builder = new StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            _ = c switch
            {
                '\n' => builder.Append(@"\n"),
                '\r' => builder.Append(@"\r"),
                '\t' => builder.Append(@"\t"),
                _ when c < 0x80 && char.IsControl(c) => builder.Append(CultureInfo.InvariantCulture, $"\\x{(int)c:x2}"),
                _ when char.IsControl(c) || Escaped.Contains(c) => builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}"),
                _ => builder.Append(c),
            };
        }

        return builder.ToString();
    }
}
