using Microsoft.Data.Sqlite;

namespace ApiGate.Storage.Sqlite;

/// <summary>How one record type maps to one table: its columns (id first), how to bind a value, how to read a row.</summary>
internal sealed class SqliteTable<T>(string name, string columns, string orderBy, Action<SqliteParameterCollection, T> bind, Func<SqliteDataReader, T> map)
{
    public string Name { get; } = name;

    public Action<SqliteParameterCollection, T> Bind { get; } = bind;

    public Func<SqliteDataReader, T> Map { get; } = map;

    public string Select(string where) => $"SELECT {columns} FROM {Name} {where} ORDER BY {orderBy}";

    public string Insert { get; } = $"INSERT INTO {name} ({columns}) VALUES ({string.Join(", ", columns.Split(", ").Select(c => "$" + c))})";

    public string Update { get; } = $"UPDATE {name} SET {string.Join(", ", columns.Split(", ").Skip(1).Select(c => c + " = $" + c))} WHERE id = $id";
}
