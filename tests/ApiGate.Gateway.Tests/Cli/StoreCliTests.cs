using System.Globalization;
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

    [Theory]
    [InlineData(":memory:")] // every connection its own empty database: "SQLite Error 1: 'no such table: users'"
    [InlineData("Data Source=shared;Mode=Memory")]
    public async Task AnyVerb_DatabaseDsnInMemory_RefusedNamingTheSetting(string dsn)
    {
        // Arrange
        Environment["APIGATE_DATABASE_DSN"] = dsn;

        // Act
        var result = await RunAsync("users", "list");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("error: invalid configuration: database.dsn (from APIGATE_DATABASE_DSN): names an in-memory database (:memory: or Mode=Memory), "
            + "which nothing written to would outlive: name a file (e.g. apigate.db)\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Theory]
    // The driver's own message named neither the setting nor the store.
    [InlineData(";Password=DsnPw4411;Pooling=maybe;Bogus=1", "DsnPw4411", "is not a SQLite file path or connection string (")]
    // SQLite as shipped cannot encrypt; the driver said so only on opening, after creating an empty file.
    [InlineData(";Password=DsnPw4412", "DsnPw4412", "sets Password, ")]
    public async Task AnyVerb_DatabaseDsnSqliteCannotUse_RefusedNamingTheSettingWithoutTheValuesOrCreatingTheFile(string options, string password, string problem)
    {
        // Arrange
        Environment["APIGATE_DATABASE_DSN"] = $"Data Source={Path.Combine(TestDirectory, "x.db")}{options}";

        // Act
        var result = await RunAsync("users", "list");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: invalid configuration: database.dsn (from APIGATE_DATABASE_DSN): " + problem, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(password, result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(TestDirectory, "x.db")));
    }

    [Theory]
    [InlineData("", "is empty: name the new store (a SQLite file, or for postgres the connection string)")]
    [InlineData("   ", "is empty: name the new store (a SQLite file, or for postgres the connection string)")] // made a file named "   "
    [InlineData(":memory:", "names an in-memory database (:memory: or Mode=Memory), which nothing written to would outlive: name a file (e.g. apigate.db)")]
    public async Task StoreCopy_ToDsnEmptyOrInMemory_RefusedNamingTheFlag(string dsn, string problem)
    {
        // Arrange: a source with a row in it.
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "copy@example.com")).ExitCode);
        var before = EntriesBesideJournals();

        // Act
        var result = await RunAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", dsn);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: --to-dsn: {problem}\n", result.Error.ReplaceLineEndings("\n"));
        Assert.Equal(before, EntriesBesideJournals());
    }

    [Theory]
    [InlineData("ReadOnly", "sets Mode=ReadOnly, but a copy writes its rows into the target: remove Mode=ReadOnly")]
    [InlineData("ReadWrite", "sets Mode=ReadWrite, which opens only an existing file, and {0} does not exist: leave Mode out or set Mode=ReadWriteCreate")]
    public async Task StoreCopy_ToDsnWithAModeThatCannotMakeTheTarget_RefusedNamingTheFlagTheModeAndTheFile_NothingCreated(string mode, string problem)
    {
        // Arrange: a source with a row in it; SQLite opens such a target only to fail ("unable to open database file")
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "copy@example.com")).ExitCode);
        var target = Path.Combine(TestDirectory, "target.db");
        var before = EntriesBesideJournals();

        // Act
        var result = await RunAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", $"Data Source={target};Mode={mode}");

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: --to-dsn: {string.Format(CultureInfo.InvariantCulture, problem, target)}\n", result.Error.ReplaceLineEndings("\n"));
        Assert.Equal(before, EntriesBesideJournals());
        Assert.False(File.Exists(target));
    }

    [Fact]
    public async Task StoreCopyHelp_ToDsn_SaysAReadOnlyTargetIsRefused()
    {
        // Act
        var result = await RunAsync("store", "copy", "--help");

        // Assert
        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"--to-dsn <to-dsn> \(REQUIRED\)\s+DSN of the target store: new and empty \(its schema is created\);\s+a\s+read-only\s+one\s+\(Mode=ReadOnly\)\s+is\s+refused", result.Output);
    }

    [Theory]
    [InlineData("-wal")]
    [InlineData("-shm")]
    [InlineData("-journal")]
    public async Task MigrateAndManagement_DatabaseDsnNamesASqliteCompanionFile_RefusedNamingTheSetting(string suffix)
    {
        // Arrange: a store, and the setting pointed at one of the files SQLite keeps beside it.
        var database = Path.Combine(TestDirectory, "cli.db");
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "kept@example.com")).ExitCode);
        Environment["APIGATE_DATABASE_DSN"] = database + suffix;

        // Act
        var migrate = await RunAsync("migrate");
        var list = await RunAsync("users", "list");

        // Assert
        foreach (var result in new[] { migrate, list })
        {
            Assert.Equal(2, result.ExitCode);
            Assert.Equal($"error: invalid configuration: database.dsn (from APIGATE_DATABASE_DSN): names {database}{suffix}, the {suffix} file SQLite keeps " +
                         $"beside the database {database}, not a database: name the database file itself\n", result.Error.ReplaceLineEndings("\n"));
        }

        Environment["APIGATE_DATABASE_DSN"] = database;
        Assert.Contains("kept@example.com", (await RunAsync("users", "list")).Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("-wal")]
    [InlineData("-shm")]
    [InlineData("-journal")]
    public async Task StoreCopy_ToDsnNamesTheSourcesCompanionFile_RefusedAndNothingWritten(string suffix)
    {
        // Arrange
        var database = Path.Combine(TestDirectory, "cli.db");
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "kept@example.com")).ExitCode);
        var before = EntriesBesideJournals();

        // Act
        var result = await RunAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", database + suffix);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: --to-dsn: names {database}{suffix}, the {suffix} file SQLite keeps beside the database {database}, not a database: " +
                     "name the database file itself\n", result.Error.ReplaceLineEndings("\n"));
        Assert.Equal(before, EntriesBesideJournals());
        Assert.Contains("kept@example.com", (await RunAsync("users", "list")).Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StoreCopy_ToDsnTheSourceFileItself_RefusedBeforeTheTargetIsOpened()
    {
        // Arrange
        var database = Path.Combine(TestDirectory, "cli.db");
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "kept@example.com")).ExitCode);

        // Act
        var result = await RunAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", database);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"store: {database}\nerror: --to-dsn: the target is the configured store itself ({database})\n", result.Error.ReplaceLineEndings("\n"));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StoreCopy_ToDsnThroughASymbolicLinkToTheSourceFileOrItsDirectory_RefusedAsTheSourceItself(bool linkTheDirectory)
    {
        // Arrange: a link to the source file, or to its directory with the file's name after it
        var database = Path.Combine(TestDirectory, "cli.db");
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "kept@example.com")).ExitCode);
        var before = (await RunAsync("users", "list", "--json")).Output;
        string target;
        if (linkTheDirectory)
        {
            var directory = Path.Combine(TestDirectory, "linked");
            Directory.CreateSymbolicLink(directory, TestDirectory);
            target = Path.Combine(directory, "cli.db");
        }
        else
        {
            target = Path.Combine(TestDirectory, "link.db");
            File.CreateSymbolicLink(target, database);
        }

        // Act
        var result = await RunAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", target);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"store: {database}\nerror: --to-dsn: the target is the configured store itself ({target})\n", result.Error.ReplaceLineEndings("\n"));
        Assert.Equal(before, (await RunAsync("users", "list", "--json")).Output);
    }

    [Fact]
    public async Task StoreCopy_ToDsnAHardLinkToTheSourceFile_RefusedAsTheSourceItselfBeforeItIsOpened_SourceUnchanged()
    {
        // Arrange: a second name of the source file, which no path comparison tells from another file (opened as a
        // target, SQLite kept a -wal and -shm of its own beside it: "disk I/O error")
        var database = Path.Combine(TestDirectory, "cli.db");
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "kept@example.com")).ExitCode);
        var before = (await RunAsync("users", "list", "--json")).Output;
        var hardLink = Path.Combine(TestDirectory, "hard.db");
        using (var ln = System.Diagnostics.Process.Start("ln", [database, hardLink]))
        {
            await ln.WaitForExitAsync();
            Assert.Equal(0, ln.ExitCode);
        }

        // Act
        var result = await RunAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", hardLink);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"store: {database}\nerror: --to-dsn: the target is the configured store itself ({hardLink})\n", result.Error.ReplaceLineEndings("\n"));
        Assert.False(File.Exists(hardLink + "-wal"));
        Assert.False(File.Exists(hardLink + "-shm"));
        Assert.Equal(before, (await RunAsync("users", "list", "--json")).Output);
    }

    [Fact]
    public async Task ConfigValidate_DsnADirectory_InvalidSettingNamingItAndTheProblem_NotNoStoreYet()
    {
        // Arrange: no file can be made there, so serve cannot open a store; validate said "no store at … yet" and
        // "configuration is valid" (exit 0)
        var target = Path.Combine(TestDirectory, "dir.db");
        Directory.CreateDirectory(target);

        // Act
        var result = await RunAsync("config", "validate", "--database", target);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"error: database.dsn (APIGATE_DATABASE_DSN / --database): {target} is a directory, not a database file: name a file in it (e.g. {Path.Combine(target, "apigate.db")})\n",
            result.Error.ReplaceLineEndings("\n"));
        Assert.Equal("", result.Output);
        Assert.Empty(Directory.GetFileSystemEntries(target));
    }

    [Theory]
    [InlineData("directory")]
    [InlineData("link loop")]
    public async Task StoreCopy_ToDsnADirectoryOrASymbolicLinkLoop_InvalidInputNamingTheFlagAndTheProblem_NothingCreated(string kind)
    {
        // Arrange: a source with a row in it; --to-dsn a directory, or a link to a link back to the first
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "copy@example.com")).ExitCode);
        var target = Path.Combine(TestDirectory, kind == "directory" ? "target.db" : "loop.db");
        string problem;
        if (kind == "directory")
        {
            Directory.CreateDirectory(target);
            problem = $"{target} is a directory, not a database file: name a file in it (e.g. {Path.Combine(target, "apigate.db")})";
        }
        else
        {
            File.CreateSymbolicLink(target, Path.Combine(TestDirectory, "back.db"));
            File.CreateSymbolicLink(Path.Combine(TestDirectory, "back.db"), target);
            problem = $"{target} is a symbolic link that leads nowhere (its links loop): name a database file";
        }

        var before = EntriesBesideJournals();

        // Act
        var result = await RunAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", target);

        // Assert: refused before either store is opened
        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: --to-dsn: {problem}\n", result.Error.ReplaceLineEndings("\n"));
        Assert.Equal(before, EntriesBesideJournals());
        Assert.Empty(kind == "directory" ? Directory.GetFileSystemEntries(target) : []);
    }

    [Theory]
    [InlineData("new")]
    [InlineData("a", "b", "..")]
    public async Task MigrateAndStoreCopy_DsnWithDotDotAfterDirectoriesNotThere_StoreAtThePathReported_NoDirectoryMade(params string[] missing)
    {
        // Arrange: 'new/../x.db' or 'a/b/../../x.db', which the operating system would resolve only once 'new' or 'a/b'
        // were there; a source store with a row in it for the copy
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "copy@example.com")).ExitCode);
        string Under(string file) => Path.Combine([TestDirectory, .. missing, "..", file]);

        // Act
        var migrated = await RunAsync("migrate", "--database", Under("x.db"));
        var copied = await RunAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", Under("copy.db"));

        // Assert
        var (store, copy) = (Path.Combine(TestDirectory, "x.db"), Path.Combine(TestDirectory, "copy.db"));
        Assert.Equal((0, $"created a new store at {store}\n"), (migrated.ExitCode, migrated.Error.ReplaceLineEndings("\n")));
        Assert.Equal((0, $"copied {Path.Combine(TestDirectory, "cli.db")} to {copy}"), (copied.ExitCode, copied.Output.ReplaceLineEndings("\n").TrimEnd().Split('\n')[^1]));
        Assert.Equal([Path.Combine(TestDirectory, "cli.db"), copy, store], EntriesBesideJournals());
    }

    [Fact]
    public async Task MigrateAndStoreCopy_DsnWithDotDotAfterALinkedDirectory_TheFileOpenedIsTheOneReported()
    {
        // Arrange: 'link' a symbolic link to elsewhere/deep; SQLite, given 'link/../x.db' as written, followed the link
        // before taking '..' off, and made elsewhere/x.db while the store said it made x.db (and again on the next open)
        var elsewhere = Path.Combine(TestDirectory, "elsewhere");
        Directory.CreateDirectory(Path.Combine(elsewhere, "deep"));
        Directory.CreateSymbolicLink(Path.Combine(TestDirectory, "link"), Path.Combine(elsewhere, "deep"));
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "copy@example.com")).ExitCode);
        var (dsn, store) = (Path.Combine(TestDirectory, "link", "..", "x.db"), Path.Combine(TestDirectory, "x.db"));

        // Act
        var migrated = await RunAsync("migrate", "--database", dsn);
        var opened = await RunAsync("plans", "list", "--database", dsn);
        var copied = await RunAsync("store", "copy", "--to-driver", "sqlite", "--to-dsn", Path.Combine(TestDirectory, "link", "..", "copy.db"));

        // Assert
        var copy = Path.Combine(TestDirectory, "copy.db");
        Assert.Equal((0, $"created a new store at {store}\n"), (migrated.ExitCode, migrated.Error.ReplaceLineEndings("\n")));
        Assert.Equal((0, $"store: {store}\n"), (opened.ExitCode, opened.Error.ReplaceLineEndings("\n")));
        Assert.Equal((0, $"copied {Path.Combine(TestDirectory, "cli.db")} to {copy}"), (copied.ExitCode, copied.Output.ReplaceLineEndings("\n").TrimEnd().Split('\n')[^1]));
        Assert.Contains("copy@example.com", (await RunAsync("users", "list", "--database", copy)).Output, StringComparison.Ordinal);
        Assert.Equal([Path.Combine(elsewhere, "deep")], Directory.GetFileSystemEntries(elsewhere));
    }

    [Theory]
    [InlineData("Host=127.0.0.1;Password=hunter2;Bogus Key=1", "is not a PostgreSQL connection string")]
    [InlineData("postgres://app:hunter2@127.0.0.1:notaport/apigate", "is not a PostgreSQL connection string")]
    [InlineData("postgres://app:hunter2@127.0.0.1/apigate?sslmode=bogus", "is not a PostgreSQL connection string")]
    [InlineData("Password=hunter2", "names no PostgreSQL host")]
    public async Task StoreCopy_ToDsnPostgresMalformed_InvalidInputNamingTheFlagNotThePassword(string dsn, string problem)
    {
        // Arrange
        Assert.Equal(0, (await RunAsync("users", "create", "--email", "copy@example.com")).ExitCode);

        // Act
        var result = await RunAsync("store", "copy", "--to-driver", "postgres", "--to-dsn", dsn);

        // Assert: refused before either store is opened
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: --to-dsn: " + problem, line, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", result.Error + result.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// What the test directory holds, leaving out the source store's -wal and -shm files: they come and go with its
    /// pooled connection (another test clearing SQLite's pools closes it), which is not what the test is about.
    /// </summary>
    [Theory]
    [InlineData("serve")]
    [InlineData("config validate")]
    public async Task ServeOrConfigValidate_SqliteDsnModeReadWriteAtAMissingFile_OneLineNamingTheSettingTheModeAndTheFile_NothingCreated(string verb)
    {
        // Arrange: SQLite opens such a store only to fail ("unable to open database file"); validate said "no store yet"
        var database = Path.Combine(TestDirectory, "missing.db");
        Environment["APIGATE_DATABASE_DSN"] = $"Data Source={database};Mode=ReadWrite";
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";
        var before = EntriesBesideJournals();

        // Act
        var result = await RunAsync([.. verb.Split(' '), .. verb == "serve" ? new[] { "--port", "0" } : []]);

        // Assert
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            $"error: database.dsn (APIGATE_DATABASE_DSN / --database): sets Mode=ReadWrite, which opens only an existing file, and {database} does not exist: leave Mode out or set Mode=ReadWriteCreate\n",
            result.Error.ReplaceLineEndings("\n"));
        Assert.Equal(before, EntriesBesideJournals());
    }

    private List<string> EntriesBesideJournals() =>
        Directory.GetFileSystemEntries(TestDirectory).Where(e => !e.EndsWith("-wal", StringComparison.Ordinal) && !e.EndsWith("-shm", StringComparison.Ordinal)).Order().ToList();
}
