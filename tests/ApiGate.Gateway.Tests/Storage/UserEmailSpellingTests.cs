using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// The operator's side of one user per mailbox: an address stored before the spelling rules (a domain in punycode, a
/// final '.') holds its mailbox against a new user in the spelling kept now, through the admin services and the CLI, on
/// every engine.
/// </summary>
public sealed class UserEmailSpellingTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateAsync_MailboxStoredUnderAnOlderSpelling_ConflictNamingTheUserAndNothingStored(string engine)
    {
        // Arrange
        var created = await engines.CreateAsync(engine);
        var users = new UserService(created.Store, TimeProvider.System);
        await StoreUnderOlderSpellingAsync(created, users, "bob@XN--BCHER-KVA.example");
        await StoreUnderOlderSpellingAsync(created, users, "cid@b\u00fccher.example.");

        // Act
        var bob = await users.CreateAsync(new UserChanges { Email = "Bob@b\u00fccher.example" }, None);
        var cid = await users.CreateAsync(new UserChanges { Email = "cid@b\u00fccher.example" }, None);

        // Assert
        Assert.Equal(new ManagementError(ManagementErrorKind.Conflict, "email",
            "a user with email 'bob@XN--BCHER-KVA.example' already exists, which is another spelling of 'Bob@b\u00fccher.example'"), bob.Error);
        Assert.Equal(new ManagementError(ManagementErrorKind.Conflict, "email",
            "a user with email 'cid@b\u00fccher.example.' already exists, which is another spelling of 'cid@b\u00fccher.example'"), cid.Error);
        Assert.Equal(["bob@XN--BCHER-KVA.example", "cid@b\u00fccher.example."],
            (await created.Store.ListUsersAsync(None)).Select(u => u.Email).Order(StringComparer.Ordinal));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdateAsync_AnotherUserToAMailboxStoredUnderAnOlderSpelling_ConflictButItsOwnUserMayTakeTheKeptSpelling(string engine)
    {
        // Arrange
        var created = await engines.CreateAsync(engine);
        var users = new UserService(created.Store, TimeProvider.System);
        var bob = await StoreUnderOlderSpellingAsync(created, users, "bob@XN--BCHER-KVA.example");
        var ann = (await users.CreateAsync(new UserChanges { Email = "ann@example.com" }, None)).Value!;

        // Act
        var other = await users.UpdateAsync(ann.Id, new UserChanges { Email = "bob@b\u00fccher.example" }, None);
        var own = await users.UpdateAsync(bob.Id, new UserChanges { Email = "bob@b\u00fccher.example" }, None);

        // Assert
        Assert.Equal(new ManagementError(ManagementErrorKind.Conflict, "email",
            "a user with email 'bob@XN--BCHER-KVA.example' already exists, which is another spelling of 'bob@b\u00fccher.example'"), other.Error);
        Assert.Equal("ann@example.com", (await created.Store.FindUserAsync(ann.Id, None))!.Email);
        Assert.Equal("bob@b\u00fccher.example", own.Value?.Email);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UsersCreateCommand_MailboxStoredUnderAnOlderSpelling_RefusedAsAConflictNamingTheUser(string engine)
    {
        // Arrange
        var created = await engines.CreateAsync(engine);
        await StoreUnderOlderSpellingAsync(created, new UserService(created.Store, TimeProvider.System), "bob@b\u00fccher.example.");

        // Act
        var result = await created.CliAsync("users", "create", "--email", "bob@b\u00fccher.example");

        // Assert
        Assert.Equal(4, result.ExitCode);
        Assert.Equal("error: --email: a user with email 'bob@b\u00fccher.example.' already exists, which is another spelling of 'bob@b\u00fccher.example'",
            result.Diagnostics.Trim());
        Assert.Single(await created.Store.ListUsersAsync(None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateAsync_MailboxStoredWithAnIdeographicFullStopOrFullwidthCharacters_ConflictNamingTheUserAndNothingStored(string engine)
    {
        // Arrange: spellings IDNA and NFKC turn into the kept one, which no short list of older spellings names
        var created = await engines.CreateAsync(engine);
        var users = new UserService(created.Store, TimeProvider.System);
        string[] older = ["eve@mail\u3002example.com", "fay@mail\uff0eexample.com", "gus@\uff4dail.example.com", "hal@mail.example.com\uff61"];
        foreach (var stored in older)
        {
            await StoreUnderOlderSpellingAsync(created, users, stored);
        }

        // Act
        var results = new List<ManagementError?>();
        foreach (var stored in older)
        {
            results.Add((await users.CreateAsync(new UserChanges { Email = Core.Text.Emails.KeptSpelling(stored)! }, None)).Error);
        }

        // Assert
        Assert.Equal(older.Select(stored => (ManagementError?)new ManagementError(ManagementErrorKind.Conflict, "email",
            $"a user with email '{stored}' already exists, which is another spelling of '{Core.Text.Emails.KeptSpelling(stored)}'")), results);
        Assert.Equal(older.Order(StringComparer.Ordinal), (await created.Store.ListUsersAsync(None)).Select(u => u.Email).Order(StringComparer.Ordinal));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UsersUpdateCommand_AnotherUserToAMailboxStoredWithAnIdeographicFullStop_RefusedAsAConflictNamingTheUser(string engine)
    {
        // Arrange
        var created = await engines.CreateAsync(engine);
        var users = new UserService(created.Store, TimeProvider.System);
        await StoreUnderOlderSpellingAsync(created, users, "eve@mail\u3002example.com");
        var ann = (await users.CreateAsync(new UserChanges { Email = "ann@example.com" }, None)).Value!;

        // Act
        var result = await created.CliAsync("users", "update", ann.Id, "--email", "EVE@mail.example.com");

        // Assert
        Assert.Equal(4, result.ExitCode);
        Assert.Equal("error: --email: a user with email 'eve@mail\u3002example.com' already exists, which is another spelling of 'EVE@mail.example.com'",
            result.Diagnostics.Trim());
        Assert.Equal("ann@example.com", (await created.Store.FindUserAsync(ann.Id, None))!.Email);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task FindUserAsync_AnySpellingOfAMailboxStoredUnderAnOlderOne_FindsItsUser(string engine)
    {
        // Arrange
        var created = await engines.CreateAsync(engine);
        var eve = await StoreUnderOlderSpellingAsync(created, new UserService(created.Store, TimeProvider.System), "eve@mail\u3002example.com");

        // Act
        string[] typed = ["eve@mail.example.com", "EVE@Mail.Example.Com", "eve@mail\uff0eexample.com", "eve@mail.example.com.", "eve@mail\u3002example.com"];
        var found = new List<string?>();
        foreach (var spelling in typed)
        {
            found.Add((await created.Store.FindUserAsync(spelling, None))?.Id);
        }

        // Assert
        Assert.Equal(typed.Select(_ => (string?)eve.Id), found);
        Assert.Null(await created.Store.FindUserAsync("eve@mail.example.org", None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task StoreCopy_UserWrittenWithoutAKeyByAnOlderBuild_FoundInTheTargetByTheKeptSpelling(string engine)
    {
        // Arrange: a row as an older build inserts it, its key left empty
        var source = await engines.CreateAsync(GatewayStores.Sqlite);
        var eve = await StoreUnderOlderSpellingAsync(source, new UserService(source.Store, TimeProvider.System), "eve@mail\u3002example.com");
        Assert.Equal(1, await source.ExecuteRawAsync("UPDATE users SET email_key = '' WHERE id = @id", ("id", eve.Id)));
        var targetDsn = await engines.NewDsnAsync(engine);

        // Act
        var copy = await source.CliAsync("store", "copy", "--to-driver", engine, "--to-dsn", targetDsn);

        // Assert
        Assert.Equal(0, copy.ExitCode);
        await using var target = GatewayStores.Create(engine, targetDsn, new ApiGate.Storage.Secrets.SecretProtector(null));
        await target.InitializeAsync(None);
        Assert.Equal(eve.Id, (await target.FindUserAsync("eve@mail.example.com", None))?.Id);
    }

    /// <summary>Creates the user in the spelling kept now, then rewrites its address as it was stored before the spelling rules.</summary>
    private static async Task<Core.Identity.UserDefinition> StoreUnderOlderSpellingAsync(EngineStore engine, UserService users, string stored)
    {
        var user = (await users.CreateAsync(new UserChanges { Email = Core.Text.Emails.KeptSpelling(stored)!, Plan = await PlanAsync(engine) }, None)).Value!;
        Assert.Equal(1, await engine.ExecuteRawAsync("UPDATE users SET email = @email WHERE id = @id", ("email", stored), ("id", user.Id)));
        return (await engine.Store.FindUserAsync(user.Id, None))!;
    }

    private static async Task<string?> PlanAsync(EngineStore engine) =>
        (await engine.Store.ListPlansAsync(None)).FirstOrDefault(p => p.IsDefault)?.Id;
}
