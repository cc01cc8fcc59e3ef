using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary>Issue 10 item 8 and "database errors name the path and the setting": the CLI says which store it opened.</summary>
public sealed class StoreCliTests : CliTestBase
{
    [Fact]
    public async Task AnyVerb_NoStoreAtThePath_SaysItCreatedOneOnStderr_ThenNamesTheStoreItOpened()
    {
        var path = Path.Combine(TestDirectory, "cli.db");

        var first = await RunAsync("plans", "list", "--json");
        var second = await RunAsync("plans", "list", "--json");

        Assert.Equal(0, first.ExitCode);
        Assert.Equal($"created a new store at {path}\n", first.Error);
        Assert.StartsWith("[", first.Output); // stdout stays clean for --json
        Assert.Equal(0, second.ExitCode);
        Assert.Equal($"store: {path}\n", second.Error);
    }

    [Fact]
    public async Task AnyVerb_StoreCannotBeOpened_ErrorNamesThePathAndTheSetting()
    {
        // A directory where the database file should be: SQLite cannot open it.
        var path = Path.Combine(TestDirectory, "is-a-directory.db");
        Directory.CreateDirectory(path);
        Environment["APIGATE_DATABASE_DSN"] = path;

        var result = await RunAsync("plans", "list");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"error: cannot open the store at {path} (APIGATE_DATABASE_DSN / --database): ", result.Error);
        Assert.DoesNotContain("SQLite Error", result.Error);
    }
}
