using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sqlite;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>A migrated SQLite store in its own temp directory, deleted on dispose.</summary>
internal sealed class TempStore : IAsyncDisposable
{
    private TempStore(string directory, SqliteGatewayStore store)
    {
        Directory = directory;
        Store = store;
    }

    public string Directory { get; }

    public string DatabasePath => Path.Combine(Directory, "apigate.db");

    public SqliteGatewayStore Store { get; }

    public static async Task<TempStore> CreateAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var store = new SqliteGatewayStore(Path.Combine(directory, "apigate.db"), new SecretProtector(null));
        await store.InitializeAsync(CancellationToken.None);
        return new TempStore(directory, store);
    }

    /// <summary>Runs the apigate CLI in-process against this store's database.</summary>
    public Task<CliResult> CliAsync(params string[] args) => CliRunner.RunAsync(new Dictionary<string, string> { ["APIGATE_DATABASE_DSN"] = DatabasePath }, args);

    public async ValueTask DisposeAsync()
    {
        await Store.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
