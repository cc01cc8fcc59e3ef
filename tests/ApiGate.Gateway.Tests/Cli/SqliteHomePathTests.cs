using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary>
/// A SQLite path starting with <c>~</c> where no shell expanded it (the config file, a variable, a quoted flag): the
/// store is in the home directory, not under a directory named <c>~</c> in the working directory; and a
/// <c>file:</c> URI, refused rather than taken as a file name there. Real <c>apigate</c> processes, with <c>HOME</c> a
/// temp directory of the test's.
/// </summary>
public sealed class SqliteHomePathTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "apigate-home-tests", Guid.NewGuid().ToString("N"));

    /// <summary>The APIGATE_* variables the processes see.</summary>
    private readonly Dictionary<string, string> _environment = [];

    public SqliteHomePathTests()
    {
        Directory.CreateDirectory(Home);
        Directory.CreateDirectory(Work);
    }

    /// <summary>The processes' home directory.</summary>
    private string Home => Path.Combine(_root, "home");

    /// <summary>The processes' working directory.</summary>
    private string Work => Path.Combine(_root, "work");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_root, recursive: true);
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task Migrate_DsnStartingWithTildeInTheConfigFile_StoreCreatedInTheHomeDirectory()
    {
        // Arrange
        await File.WriteAllTextAsync(Path.Combine(Work, "apigate.yaml"), "database:\n  dsn: ~/apigate.db\n");

        // Act
        var result = await RunAsync("migrate");

        // Assert
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal($"created a new store at {Path.Combine(Home, "apigate.db")}\n", result.Error.ReplaceLineEndings("\n"));
        Assert.True(File.Exists(Path.Combine(Home, "apigate.db")));
        Assert.False(Directory.Exists(Path.Combine(Work, "~")));
    }

    [Fact]
    public async Task PlansList_QuotedDatabaseFlagStartingWithTilde_StoreCreatedInTheHomeDirectory()
    {
        // Act: --database '~/flag.db', as a shell passes it quoted
        var result = await RunAsync("plans", "list", "--database", "~/flag.db");

        // Assert
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.Equal($"created a new store at {Path.Combine(Home, "flag.db")}\n", result.Error.ReplaceLineEndings("\n"));
        Assert.False(Directory.Exists(Path.Combine(Work, "~")));
    }

    [Fact]
    public async Task StoreCopy_SourceVariableAndTargetDsnStartingWithTilde_BothInTheHomeDirectory()
    {
        // Arrange: APIGATE_DATABASE_DSN='~/source.db', a store there already
        _environment["APIGATE_DATABASE_DSN"] = "~/source.db";
        Assert.Equal(0, (await RunAsync("migrate")).ExitCode);

        // Act
        var result = await RunAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", "~/copy.db");

        // Assert
        Assert.True(result.ExitCode == 0, result.Error);
        Assert.StartsWith($"store: {Path.Combine(Home, "source.db")}\n", result.Error.ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(Home, "copy.db")));
        Assert.False(Directory.Exists(Path.Combine(Work, "~")));
    }

    [Theory]
    [InlineData("~/apigate.db", "{home}/apigate.db")]
    [InlineData("Data Source=~/apigate.db;Cache=Shared", "Data Source={home}/apigate.db;Cache=Shared")]
    public async Task ConfigShow_DsnAndAFileSettingStartingWithTildeInTheConfigFile_BothShownAsTheFilesInTheHomeDirectory(string dsn, string shown)
    {
        // Arrange: the SQLite DSN (a path, or a connection string) and usage.export, as no shell expanded them
        await File.WriteAllTextAsync(Path.Combine(Work, "apigate.yaml"), $"database:\n  dsn: {dsn}\nusage:\n  export: ~/usage.jsonl\n");

        // Act
        var table = await RunAsync("config", "show");
        var json = await RunAsync("config", "show", "--json");

        // Assert
        var expected = shown.Replace("{home}", Home, StringComparison.Ordinal);
        var export = Path.Combine(Home, "usage.jsonl");
        Assert.True(table.ExitCode == 0, table.Error);
        var lines = table.Output.Split('\n');
        Assert.StartsWith($"database.dsn {expected} file ", Regex.Replace(lines.Single(l => l.StartsWith("database.dsn ", StringComparison.Ordinal)), " +", " "), StringComparison.Ordinal);
        Assert.StartsWith($"usage.export {export} file ", Regex.Replace(lines.Single(l => l.StartsWith("usage.export ", StringComparison.Ordinal)), " +", " "), StringComparison.Ordinal);
        Assert.True(json.ExitCode == 0, json.Error);
        var settings = JsonDocument.Parse(json.Output).RootElement;
        Assert.Equal((expected, "file"), ConfigShow.Setting(settings, "database.dsn"));
        Assert.Equal((export, "file"), ConfigShow.Setting(settings, "usage.export"));
    }

    [Fact]
    public async Task ConfigSet_FileSettingStartingWithTilde_NowShownAsTheFileInTheHomeDirectory_AlsoInJson()
    {
        // Arrange: a store in the working directory; usage.export as no shell expanded it
        _environment["APIGATE_DATABASE_DSN"] = "apigate.db";

        // Act
        var table = await RunAsync("config", "set", "usage.export", "~/usage.jsonl");
        var json = await RunAsync("config", "set", "usage.export", "~/usage.jsonl", "--json");

        // Assert: as config show shows it
        var export = Path.Combine(Home, "usage.jsonl");
        Assert.True(table.ExitCode == 0, table.Error);
        Assert.Equal($"usage.export {export} stored", Regex.Replace(table.Output.Split('\n').Single(l => l.StartsWith("usage.export ", StringComparison.Ordinal)), " +", " ").TrimEnd());
        Assert.True(json.ExitCode == 0, json.Error);
        var now = JsonDocument.Parse(json.Output).RootElement.GetProperty("usage.export");
        Assert.Equal((export, "stored"), (now.GetProperty("value").GetString(), now.GetProperty("source").GetString()));
    }

    [Fact]
    public async Task Serve_DsnVariableStartingWithTilde_ServesTheStoreInTheHomeDirectory()
    {
        // Arrange
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });

        // Act
        using var serve = ServeProcess.Start("~/served.db", new Dictionary<string, string> { ["HOME"] = Home }, workingDirectory: Work);
        await serve.WaitUntilReadyAsync(client);

        // Assert
        Assert.True(File.Exists(Path.Combine(Home, "served.db")));
        Assert.False(Directory.Exists(Path.Combine(Work, "~")));
    }

    [Fact]
    public async Task PlansList_TildePathWithARelativeHome_RefusedNamingHomeAsTheProblem()
    {
        // Arrange: HOME set, but not to an absolute path, so no home directory is known
        _environment["HOME"] = "relative";

        // Act
        var result = await RunAsync("plans", "list", "--database", "~/flag.db");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            "error: invalid configuration: database.dsn (from a command-line flag): names ~/flag.db in the home directory, which is not known here " +
            "(HOME is not set, or not an absolute path): write the whole path\n", result.Error.ReplaceLineEndings("\n"));
        Assert.Empty(Directory.GetFileSystemEntries(Work));
    }

    [Fact]
    public async Task MigrateAndStoreCopy_DsnAFileUri_RefusedNamingTheSettingAndNothingCreated()
    {
        // Arrange: SQLite opens file:/path/x.db as that file, but it was taken as a file name in the working directory
        // (a directory named file: made there, the store named by a path that does not exist)
        var uri = "file:" + Path.Combine(Home, "uri.db");
        _environment["APIGATE_DATABASE_DSN"] = uri;

        // Act
        var migrate = await RunAsync("migrate");
        _environment["APIGATE_DATABASE_DSN"] = Path.Combine(Home, "source.db");
        Assert.Equal(0, (await RunAsync("migrate")).ExitCode);
        var copy = await RunAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", "file:" + Path.Combine(Home, "source.db"));

        // Assert
        var problem = $"names {uri}, a SQLite URI (file:), which is not read as one here: give the database file's path instead\n";
        Assert.Equal((2, "error: invalid configuration: database.dsn (from APIGATE_DATABASE_DSN): " + problem), (migrate.ExitCode, migrate.Error.ReplaceLineEndings("\n")));
        Assert.Equal((2, "error: --to-dsn: " + problem.Replace("uri.db", "source.db", StringComparison.Ordinal)), (copy.ExitCode, copy.Error.ReplaceLineEndings("\n")));
        Assert.False(File.Exists(Path.Combine(Home, "uri.db")));
        Assert.Empty(Directory.GetFileSystemEntries(Work));
    }

    /// <summary>
    /// Runs the <c>apigate</c> of the test output in <see cref="Work"/> with <see cref="Home"/> as HOME and no APIGATE_*
    /// variable but those of <see cref="_environment"/>.
    /// </summary>
    private async Task<CliResult> RunAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Work,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "apigate.dll"));
        foreach (var argument in args)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("APIGATE_", StringComparison.Ordinal)).ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["HOME"] = Home;
        foreach (var (name, value) in _environment)
        {
            start.Environment[name] = value;
        }

        return await ServiceUser.RunAsync(start);
    }
}
