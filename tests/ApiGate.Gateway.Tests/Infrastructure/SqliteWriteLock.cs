using Microsoft.Data.Sqlite;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>Another connection holding a SQLite store's write lock, as another process (a CLI command, a backup) would.</summary>
internal static class SqliteWriteLock
{
    /// <summary>Opens a connection and takes the write lock (<c>BEGIN EXCLUSIVE</c>); it holds it until <see cref="ReleaseAsync"/> or disposal.</summary>
    public static async Task<SqliteConnection> HoldAsync(string databasePath)
    {
        var holder = new SqliteConnection($"Data Source={databasePath};Pooling=False");
        await holder.OpenAsync();
        await using var exclusive = holder.CreateCommand();
        exclusive.CommandText = "BEGIN EXCLUSIVE";
        await exclusive.ExecuteNonQueryAsync();
        return holder;
    }

    public static async Task ReleaseAsync(SqliteConnection holder)
    {
        await using var rollback = holder.CreateCommand();
        rollback.CommandText = "ROLLBACK";
        await rollback.ExecuteNonQueryAsync();
    }
}
