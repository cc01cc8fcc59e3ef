using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// Migration 26 of each engine (<c>users.email_key</c>): a store at schema version 25 holding accounts stored before the
/// spelling rules gets the key of each address, so each is found from the spelling its owner types now; two accounts
/// stored under spellings of one mailbox do not stop the start, both stay, and one line says which they are.
/// </summary>
public sealed class EmailKeyMigrationTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>A current store put back to schema version 25: no key column, no index on it.</summary>
    private const string BackToVersion25 = """
        DROP INDEX users_email_key;
        ALTER TABLE users DROP COLUMN email_key;
        DELETE FROM schema_migrations WHERE version >= 26;
        """;

    private const string InsertUser = """
        INSERT INTO users (id, email, name, plan_id, status, created_at, updated_at)
        VALUES (@id, @email, '', 'free', 'active', @at, @at)
        """;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task InitializeAsync_StoreAtVersion25WithAddressesInOlderSpellings_FillsTheKeysAndFindsEachByItsKeptSpelling(string engine)
    {
        // Arrange
        var created = await engines.CreateAsync(engine);
        await created.RunScriptAsync(BackToVersion25);
        (string Id, string Stored, string Typed)[] users =
        [
            ("usr_eve", "eve@mail\u3002example.com", "eve@mail.example.com"),
            ("usr_fay", "fay@\uff4dail.example.com", "fay@mail.example.com"),
            ("usr_bob", "Bob@XN--BCHER-KVA.example", "bob@b\u00fccher.example"),
            ("usr_ann", "ann@example.com", "ANN@example.com"),
        ];
        foreach (var (id, stored, _) in users)
        {
            Assert.Equal(1, await created.ExecuteRawAsync(InsertUser, ("id", id), ("email", stored), ("at", At(0))));
        }

        // Act
        await using var upgraded = GatewayStores.Create(engine, created.Dsn, new SecretProtector(null));
        await upgraded.InitializeAsync(None);
        var found = new List<string?>();
        foreach (var (_, _, typed) in users)
        {
            found.Add((await upgraded.FindUserAsync(typed, None))?.Id);
        }

        var second = await new UserService(upgraded, TimeProvider.System).CreateAsync(new UserChanges { Email = "eve@mail.example.com" }, None);

        // Assert
        Assert.Equal(new[] { (26, "users: the mailbox each address names, indexed") }, upgraded.MigrationsApplied);
        Assert.Empty(upgraded.MigrationNotices);
        Assert.Equal(users.Select(u => (string?)u.Id), found);
        Assert.Equal(new ManagementError(ManagementErrorKind.Conflict, "email",
            "a user with email 'eve@mail\u3002example.com' already exists, which is another spelling of 'eve@mail.example.com'"), second.Error);
        Assert.True(await created.IndexExistsAsync("users_email_key"));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task MigrateCommand_TwoUsersStoredUnderSpellingsOfOneMailbox_AppliedBothKeptAndOneWarningLineNamesThem(string engine)
    {
        // Arrange: one mailbox held by two users, stored under two of its spellings before the rules
        var created = await engines.CreateAsync(engine);
        await created.RunScriptAsync(BackToVersion25);
        Assert.Equal(1, await created.ExecuteRawAsync(InsertUser, ("id", "usr_one"), ("email", "ann@mail\u3002example.com"), ("at", At(0))));
        Assert.Equal(1, await created.ExecuteRawAsync(InsertUser, ("id", "usr_two"), ("email", "ann@mail.example.com."), ("at", At(1))));
        Assert.Equal(1, await created.ExecuteRawAsync(InsertUser, ("id", "usr_eve"), ("email", "eve@example.com"), ("at", At(2))));

        // Act
        var migrate = await created.CliAsync("migrate");
        await using var store = GatewayStores.Create(engine, created.Dsn, new SecretProtector(null));
        await store.InitializeAsync(None);
        var byTyped = await store.FindUserAsync("ann@mail.example.com.", None);
        var byKept = await store.FindUserAsync("ann@mail.example.com", None);

        // Assert: started, both users kept, each found by its address as stored, the kept spelling finding the older
        Assert.Equal(0, migrate.ExitCode);
        Assert.Equal("warning: store: 1 mailbox is held by more than one user, stored under different spellings before the spelling rules: " +
            "ann@mail.example.com (ann@mail\u3002example.com usr_one, ann@mail.example.com. usr_two). Each user is still found by its address as stored; " +
            "the spelling kept now finds the oldest. Keep one user per mailbox: give the others another address or delete them (docs/portal.md)",
            migrate.Diagnostics.Trim());
        Assert.Equal("applied migration 26: users: the mailbox each address names, indexed\nschema is now at version 26", migrate.Output.Trim().ReplaceLineEndings("\n"));
        Assert.Equal(["usr_eve", "usr_one", "usr_two"], (await store.ListUsersAsync(None)).Select(u => u.Id).Order(StringComparer.Ordinal));
        Assert.Equal("usr_two", byTyped?.Id);
        Assert.Equal("usr_one", byKept?.Id);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task InitializeAsync_CurrentStoreWithUserWrittenWithoutKey_FillsTheKeyAndFindsItByItsKeptSpelling(string engine)
    {
        // Arrange: at the current version, a user as an older build writes it during a rolling upgrade (no key)
        var created = await engines.CreateAsync(engine);
        Assert.Equal(1, await created.ExecuteRawAsync(InsertUser, ("id", "usr_eve"), ("email", "Eve@mail\u3002example.com"), ("at", At(0))));
        Assert.Equal(1, await created.ExecuteRawAsync("UPDATE users SET email_key = '' WHERE id = @id", ("id", "usr_eve")));

        // Act
        await using var reopened = GatewayStores.Create(engine, created.Dsn, new SecretProtector(null));
        await reopened.InitializeAsync(None);
        var byKept = await reopened.FindUserAsync("eve@mail.example.com", None);
        var byStored = await reopened.FindUserAsync("Eve@mail\u3002example.com", None);

        // Assert
        Assert.Empty(reopened.MigrationsApplied);
        Assert.Empty(reopened.MigrationNotices);
        Assert.Equal("usr_eve", byKept?.Id);
        Assert.Equal("usr_eve", byStored?.Id);
    }

    /// <summary>Creation times a minute apart, as the users' rows store them.</summary>
    private static string At(int minute) => $"2026-11-30T12:{minute:00}:00.000Z";
}
