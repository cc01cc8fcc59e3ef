using System.Reflection;

namespace ApiGate.Storage.Rows;

/// <summary>
/// Finds text holding the NUL character (U+0000) in row records: SQLite keeps it in text, PostgreSQL's text cannot hold
/// it and refuses the whole statement without saying which row or column. Names the row by its key and the column,
/// never the value (it may be a secret).
/// </summary>
internal static class NulCharacters
{
    /// <summary>
    /// The first row of <paramref name="rows"/> with a NUL in one of its text columns, as <c>TABLE row KEY (COLUMN)</c>
    /// (<c>plans row pro (description)</c>; a key of other columns than <c>id</c> as <c>name=value, …</c>), or null
    /// when there is none.
    /// </summary>
    /// <param name="table">The table the rows are written to.</param>
    /// <param name="key">The columns that name a row (<c>id</c>, or <c>user_id, period_start</c>).</param>
    /// <param name="rows">The rows, as the statement that was refused bound them.</param>
    public static string? Find<TRow>(string table, string key, IReadOnlyList<TRow> rows)
    {
        var properties = RowMapping.PropertiesOf(typeof(TRow));
        var text = properties.Where(p => p.PropertyType == typeof(string)).ToArray();
        foreach (var row in rows)
        {
            if (row is null)
            {
                continue;
            }

            foreach (var property in text)
            {
                if (property.GetValue(row) is string value && value.Contains('\0', StringComparison.Ordinal))
                {
                    return $"{table} row {KeyOf(row, key, properties)} ({RowMapping.ColumnOf(property.Name)})";
                }
            }
        }

        return null;
    }

    /// <summary>The row's key: the value of <c>id</c> alone, else <c>column=value</c> for each key column.</summary>
    private static string KeyOf(object row, string key, PropertyInfo[] properties)
    {
        var columns = key.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var values = columns.Select(column => Printable(properties.FirstOrDefault(p => RowMapping.ColumnOf(p.Name) == column)?.GetValue(row)));
        return columns is ["id"] ? values.Single() : string.Join(", ", columns.Zip(values, (column, value) => column + "=" + value));
    }

    /// <summary>A key value as it can be printed: a NUL in it (the key may be the text at fault) written <c>\0</c>.</summary>
    private static string Printable(object? value) =>
        Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture)?.Replace("\0", "\\0", StringComparison.Ordinal) ?? "";
}
