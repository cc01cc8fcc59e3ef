using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sqlite;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A SQLite store migrated once per test run, copied for each test that asks: a copy opens as an up-to-date store, so
/// a class that starts a gateway per test does not run every migration again for each one (about half of a start).
/// </summary>
internal static class MigratedStoreTemplate
{
    private static readonly Lazy<Task<string>> Template = new(CreateAsync);

    /// <summary>A new temp directory holding a copy of the migrated store as <c>apigate.db</c>.</summary>
    public static async Task<string> NewDirectoryAsync()
    {
        var template = await Template.Value;
        var directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        File.Copy(template, Path.Combine(directory, "apigate.db"));
        return directory;
    }

    private static async Task<string> CreateAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "apigate-tests", "template-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "apigate.db");
        await using (var store = new SqliteGatewayStore(path, new SecretProtector(null)))
        {
            await store.InitializeAsync(CancellationToken.None);
        }

        // The last connection closed checkpoints the write-ahead log into the file: the copy is the whole store.
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (File.Exists(path + "-wal"))
        {
            throw new InvalidOperationException($"the template store {path} kept its write-ahead log after its last connection closed");
        }

        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return path;
    }
}
