namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>CLI tests: the real command tree in-process, against a SQLite file in a fresh temp directory.</summary>
public abstract class CliTestBase : IDisposable
{
    protected CliTestBase()
    {
        Directory.CreateDirectory(TestDirectory);
        Environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DSN"] = Path.Combine(TestDirectory, "cli.db") };
    }

    /// <summary>The temp directory holding this test's database (and any files it writes).</summary>
    private protected string TestDirectory { get; } = Path.Combine(Path.GetTempPath(), "apigate-cli-tests", Guid.NewGuid().ToString("N"));

    /// <summary>The environment the CLI sees (APIGATE_* variables).</summary>
    private protected Dictionary<string, string> Environment { get; }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(TestDirectory, recursive: true);
        GC.SuppressFinalize(this);
    }

    private protected Task<CliResult> RunAsync(params string[] args) => CliRunner.RunAsync(Environment, args);
}
