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
