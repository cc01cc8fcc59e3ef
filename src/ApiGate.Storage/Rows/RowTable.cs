using System.Reflection;

namespace ApiGate.Storage.Rows;

/// <summary>
/// One table described by its row record: the columns are the record's public properties in snake_case
/// (<c>BaseUrl</c> ↔ <c>base_url</c>), bound as <c>@BaseUrl</c> and read back by name through Dapper. The SQL it
/// writes is plain enough for SQLite and PostgreSQL alike, so every store shares the row records and their mapping.
/// </summary>
/// <typeparam name="TRow">A row record of column-shaped values (text, numbers, booleans); see <see cref="UpstreamRow"/>.</typeparam>
internal sealed class RowTable<TRow>
    where TRow : class
{
    private static readonly PropertyInfo[] Properties = RowMapping.PropertiesOf(typeof(TRow));

    public RowTable(string name, string orderBy)
    {
        Name = name;
        _orderBy = orderBy;
        Columns = string.Join(", ", Properties.Select(p => ColumnOf(p.Name)));
        _values = $"VALUES ({string.Join(", ", Properties.Select(p => "@" + p.Name))})";
        Insert = InsertWith("");
        Update = $"UPDATE {name} SET {string.Join(", ", Properties.Skip(1).Select(p => ColumnOf(p.Name) + " = @" + p.Name))} WHERE id = @Id";
        Key = Properties.Any(p => p.Name == "Id")
            ? "id"
            : string.Join(", ", orderBy.Split(',', StringSplitOptions.TrimEntries).Select(part => part.Split(' ')[0]));
    }

    private readonly string _orderBy;

    private readonly string _values;

    public string Name { get; }

    /// <summary>
    /// The columns that name a row, for messages: <c>id</c> where the table has one, else the columns it is ordered by
    /// (<c>user_id, period_start</c>).
    /// </summary>
    public string Key { get; }

    /// <summary>The column list, id first (<c>id, name, …</c>).</summary>
    public string Columns { get; }

    /// <summary>How many columns <see cref="Columns"/> and <see cref="ColumnsOf"/> name.</summary>
    public int ColumnCount => Properties.Length;

    /// <summary><c>INSERT</c> of every column, bound from a row's properties.</summary>
    public string Insert { get; }

    /// <summary>
    /// <see cref="Insert"/> with <paramref name="clause"/> before <c>VALUES</c>: PostgreSQL's <c>OVERRIDING SYSTEM
    /// VALUE</c>, to keep the ids of an identity column when rows are copied.
    /// </summary>
    public string InsertWith(string clause) => $"INSERT INTO {Name} ({Columns}) {(clause.Length == 0 ? "" : clause + " ")}{_values}";

    /// <summary><c>UPDATE</c> of every column but <c>id</c>, for the row whose <c>id</c> is the row's <c>Id</c>.</summary>
    public string Update { get; }

    /// <summary>Every column of the rows <paramref name="where"/> selects (may be empty), in the table's order.</summary>
    public string Select(string where) => $"SELECT {Columns} FROM {Name} {where} ORDER BY {_orderBy}";

    /// <summary>The columns prefixed with a table alias (<c>k.id, k.name, …</c>), for joins.</summary>
    public string ColumnsOf(string alias) => string.Join(", ", Properties.Select(p => alias + "." + ColumnOf(p.Name)));

    private static string ColumnOf(string property) => RowMapping.ColumnOf(property);
}
