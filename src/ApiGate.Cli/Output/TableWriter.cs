namespace ApiGate.Cli.Output;

/// <summary>Plain, column-aligned tables for humans (use <c>--json</c> for scripts).</summary>
internal static class TableWriter
{
    public static void Write(TextWriter output, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var all = rows.ToList();
        if (all.Count == 0)
        {
            output.WriteLine("(none)");
            return;
        }

        var widths = headers.Select(h => h.Length).ToArray();
        foreach (var row in all)
        {
            for (var i = 0; i < widths.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
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
        var list = fields.ToList();
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
            parts[i] = i == cells.Count - 1 ? cells[i] : cells[i].PadRight(widths[i]);
        }

        output.WriteLine(string.Join("  ", parts).TrimEnd());
    }
}
