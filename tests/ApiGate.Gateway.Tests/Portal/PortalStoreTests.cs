using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Portal;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>The portal's part of the store contract (migration 8), on every engine: accounts, one-time tokens, visible plans.</summary>
public sealed class PortalStoreTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateKey_ThirtyAtOnceWithALimitOfTwenty_ExactlyTwentyStored(string engine)
    {
        // Arrange: the portal's limit, with requests sent at once (an attack run created 30 keys past a limit of 20).
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await PortalUserAsync(store, "keys@example.com");
        var keys = new KeyService(store, TimeProvider.System);

        // Act
        var results = await Task.WhenAll(Enumerable.Range(0, 30).Select(i =>
            Task.Run(() => keys.CreateAsync(new KeyChanges { User = user.Id, Name = $"k{i}", MaxActiveKeys = 20 }, None))));

        // Assert
        Assert.True(results.Count(r => r.Ok) == 20, string.Join("; ", results.Where(r => !r.Ok).Select(r => r.Error!.ToString()).Distinct()));
        Assert.All(results.Where(r => !r.Ok), r => Assert.Equal((ManagementErrorKind.Conflict, "keys"), (r.Error!.Kind, r.Error.Field)));
        Assert.Equal(20, (await store.ListKeysAsync(user.Id, None)).Count(k => k.RevokedAt is null));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task PortalKeys_TwentyFirstKey_RefusedWithThePortalsWordsAndNotStored(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await PortalUserAsync(store, "limit@example.com");
        var portal = new ApiGate.Gateway.Portal.PortalKeyService(store, new Configuration.GatewayOptions(), new Identity.AttemptCounter(store, TimeProvider.System), TimeProvider.System);
        for (var i = 0; i < 20; i++)
        {
            Assert.NotNull((await portal.CreateAsync(user, $"k{i}", null, None)).Key);
        }

        // Act
        var (result, key) = await portal.CreateAsync(user, "one more", null, None);

        // Assert
        Assert.Null(key);
        Assert.Equal("You have 20 keys already: revoke one you no longer use first.", result.Message);
        Assert.Equal(20, (await store.ListKeysAsync(user.Id, None)).Count);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreatePortalUserAsync_NewEmail_StoresUserAndAccountTogether(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await NewUserAsync(store, "new@example.com");

        // Act
        await store.CreatePortalUserAsync(user, Account(user.Id), None);

        // Assert
        Assert.Equal("new@example.com", (await store.FindUserAsync("new@example.com", None))!.Email);
        var account = await store.FindPortalAccountAsync(user.Id, None);
        Assert.Equal("hash-1", account!.PasswordHash);
        Assert.Null(account.EmailVerifiedAt);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreatePortalUserAsync_DuplicateEmail_ConflictAndNoSecondAccount(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var first = await NewUserAsync(store, "dup@example.com");
        await store.CreatePortalUserAsync(first, Account(first.Id), None);
        var second = await NewUserAsync(store, "DUP@example.com");

        // Act
        var error = await Assert.ThrowsAsync<StoreConflictException>(() => store.CreatePortalUserAsync(second, Account(second.Id), None));

        // Assert
        Assert.Equal("email", error.Field);
        Assert.Null(await store.FindPortalAccountAsync(second.Id, None));
        Assert.Single(await store.ListUsersAsync(None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreatePortalUserAsync_EndpointSubscribedToUserCreated_EventQueuedWithTheUserAndNoneForADuplicate(string engine)
    {
        // Arrange: sign-ups through the portal created the user without its user.created event, which the CLI and the
        // admin API record
        var store = (await engines.CreateAsync(engine)).Store;
        var endpoint = await new WebhookService(store, TimeProvider.System).CreateAsync(
            new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["user.created"] }, None);
        Assert.True(endpoint.Ok, endpoint.Error?.ToString());
        var user = await NewUserAsync(store, "signed-up@example.com");
        var duplicate = await NewUserAsync(store, "SIGNED-UP@example.com");

        // Act
        await store.CreatePortalUserAsync(user, Account(user.Id), None);
        await Assert.ThrowsAsync<StoreConflictException>(() => store.CreatePortalUserAsync(duplicate, Account(duplicate.Id), None));

        // Assert: one event, about the user that exists
        Assert.Single(await store.ListWebhookDeliveriesAsync(endpoint.Value!.Endpoint.Id, 10, None));
        var work = Assert.Single(await store.ClaimWebhookDeliveriesAsync("check", Now.AddYears(1), Now.AddYears(1).AddMinutes(1), 16, None));
        var body = System.Text.Json.JsonDocument.Parse(work.Body).RootElement;
        Assert.Equal("user.created", body.GetProperty("type").GetString());
        Assert.Equal(user.Id, body.GetProperty("data").GetProperty("user_id").GetString());
        Assert.Equal("signed-up@example.com", body.GetProperty("data").GetProperty("email").GetString());
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConsumePortalTokenAsync_SecondUse_ReturnsNull(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await PortalUserAsync(store, "once@example.com");
        await store.CreatePortalTokenAsync(Token(user.Id, "h1", PortalTokenPurpose.Verify, Now.AddHours(24)), None);

        // Act
        var first = await store.ConsumePortalTokenAsync("h1", PortalTokenPurpose.Verify, Now, None);
        var second = await store.ConsumePortalTokenAsync("h1", PortalTokenPurpose.Verify, Now.AddMinutes(1), None);

        // Assert
        Assert.Equal(user.Id, first!.UserId);
        Assert.Equal(Now, first.UsedAt);
        Assert.Null(second);
    }

    [Fact]
    public async Task ConsumePortalTokenAsync_UnknownOrUsedLink_AnswersWithoutTheFilesWriteLock()
    {
        // Arrange: a used link and a made-up one; another connection holds the SQLite file's write lock, and this store
        // waits at most a second for it
        var created = await engines.CreateAsync(GatewayStores.Sqlite);
        var user = await PortalUserAsync(created.Store, "locked@example.com");
        await created.Store.CreatePortalTokenAsync(Token(user.Id, "used", PortalTokenPurpose.Verify, Now.AddHours(24)), None);
        Assert.NotNull(await created.Store.ConsumePortalTokenAsync("used", PortalTokenPurpose.Verify, Now, None));
        await created.Store.CreatePortalTokenAsync(Token(user.Id, "live", PortalTokenPurpose.Verify, Now.AddHours(24)), None); // after: a new link ends the unused ones
        await using var impatient = new ApiGate.Storage.Sqlite.SqliteGatewayStore(created.Dsn, new ApiGate.Storage.Secrets.SecretProtector(null), TimeSpan.FromSeconds(1));
        await impatient.InitializeAsync(None);
        await using var holder = await created.OpenRawAsync();
        await ExecuteAsync(holder, "BEGIN IMMEDIATE");

        // Act: what a client posting made-up links in a loop costs
        var madeUp = await impatient.ConsumePortalTokenAsync("made-up", PortalTokenPurpose.Verify, Now, None);
        var usedAgain = await impatient.ConsumePortalTokenAsync("used", PortalTokenPurpose.Verify, Now, None);

        // Assert: answered by a read, never queued behind the lock; a live link still needs the write, and gets it
        Assert.Null(madeUp);
        Assert.Null(usedAgain);
        await Assert.ThrowsAsync<StoreBusyException>(() => impatient.ConsumePortalTokenAsync("live", PortalTokenPurpose.Verify, Now, None));
        await ExecuteAsync(holder, "ROLLBACK");
        Assert.Equal(user.Id, (await impatient.ConsumePortalTokenAsync("live", PortalTokenPurpose.Verify, Now, None))!.UserId);

        static async Task ExecuteAsync(System.Data.Common.DbConnection connection, string sql)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            await command.ExecuteNonQueryAsync();
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConsumePortalTokenAsync_ExpiredOrOtherPurpose_ReturnsNull(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await PortalUserAsync(store, "late@example.com");
        await store.CreatePortalTokenAsync(Token(user.Id, "reset-1", PortalTokenPurpose.Reset, Now.AddHours(1)), None);

        // Act
        var asVerify = await store.ConsumePortalTokenAsync("reset-1", PortalTokenPurpose.Verify, Now, None);
        var expired = await store.ConsumePortalTokenAsync("reset-1", PortalTokenPurpose.Reset, Now.AddHours(1), None);
        var inTime = await store.ConsumePortalTokenAsync("reset-1", PortalTokenPurpose.Reset, Now.AddMinutes(59), None);

        // Assert
        Assert.Null(asVerify);
        Assert.Null(expired);
        Assert.NotNull(inTime);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConsumePortalTokenAsync_TenConcurrentUses_ExactlyOneSucceeds(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await PortalUserAsync(store, "race@example.com");
        await store.CreatePortalTokenAsync(Token(user.Id, "race", PortalTokenPurpose.Reset, Now.AddHours(1)), None);

        // Act
        var results = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => store.ConsumePortalTokenAsync("race", PortalTokenPurpose.Reset, Now, None)));

        // Assert
        Assert.Single(results, r => r is not null);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreatePortalTokenAsync_NewResetLink_EarlierUnusedResetLinksEndConfirmationLinkAndOtherAccountsKept(string engine)
    {
        // Arrange: two reset links out (the first one, say, in a mailbox someone else reads too), a confirmation link,
        // and another account's reset link
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await PortalUserAsync(store, "newest@example.com");
        var other = await PortalUserAsync(store, "other@example.com");
        await store.CreatePortalTokenAsync(Token(user.Id, "reset-first", PortalTokenPurpose.Reset, Now.AddHours(1)), None);
        await store.CreatePortalTokenAsync(Token(user.Id, "reset-second", PortalTokenPurpose.Reset, Now.AddHours(1)), None);
        await store.CreatePortalTokenAsync(Token(user.Id, "verify", PortalTokenPurpose.Verify, Now.AddHours(24)), None);
        await store.CreatePortalTokenAsync(Token(other.Id, "reset-other", PortalTokenPurpose.Reset, Now.AddHours(1)), None);

        // Act: the owner asks for one more
        await store.CreatePortalTokenAsync(Token(user.Id, "reset-newest", PortalTokenPurpose.Reset, Now.AddHours(1)), None);

        // Assert: only the newest reset link works; the confirmation link and the other account's link are untouched
        Assert.Null(await store.ConsumePortalTokenAsync("reset-first", PortalTokenPurpose.Reset, Now, None));
        Assert.Null(await store.ConsumePortalTokenAsync("reset-second", PortalTokenPurpose.Reset, Now, None));
        Assert.Equal(user.Id, (await store.ConsumePortalTokenAsync("reset-newest", PortalTokenPurpose.Reset, Now, None))?.UserId);
        Assert.Equal(user.Id, (await store.ConsumePortalTokenAsync("verify", PortalTokenPurpose.Verify, Now, None))?.UserId);
        Assert.Equal(other.Id, (await store.ConsumePortalTokenAsync("reset-other", PortalTokenPurpose.Reset, Now, None))?.UserId);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreatePortalTokenAsync_NewConfirmationLink_EarlierUnusedConfirmationLinksEndResetLinkAndOtherAccountsKept(string engine)
    {
        // Arrange: two confirmation links out (the sign-up's and a resend's), a reset link, and another account's
        // confirmation link
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await PortalUserAsync(store, "confirm-newest@example.com");
        var other = await PortalUserAsync(store, "confirm-other@example.com");
        await store.CreatePortalTokenAsync(Token(user.Id, "verify-first", PortalTokenPurpose.Verify, Now.AddHours(24)), None);
        await store.CreatePortalTokenAsync(Token(user.Id, "verify-second", PortalTokenPurpose.Verify, Now.AddHours(24)), None);
        await store.CreatePortalTokenAsync(Token(user.Id, "reset", PortalTokenPurpose.Reset, Now.AddHours(1)), None);
        await store.CreatePortalTokenAsync(Token(other.Id, "verify-other", PortalTokenPurpose.Verify, Now.AddHours(24)), None);

        // Act: the owner asks for one more
        await store.CreatePortalTokenAsync(Token(user.Id, "verify-newest", PortalTokenPurpose.Verify, Now.AddHours(24)), None);

        // Assert: only the newest confirmation link works; the reset link and the other account's link are untouched
        Assert.Null(await store.ConsumePortalTokenAsync("verify-first", PortalTokenPurpose.Verify, Now, None));
        Assert.Null(await store.ConsumePortalTokenAsync("verify-second", PortalTokenPurpose.Verify, Now, None));
        Assert.Equal(user.Id, (await store.ConsumePortalTokenAsync("verify-newest", PortalTokenPurpose.Verify, Now, None))?.UserId);
        Assert.Equal(user.Id, (await store.ConsumePortalTokenAsync("reset", PortalTokenPurpose.Reset, Now, None))?.UserId);
        Assert.Equal(other.Id, (await store.ConsumePortalTokenAsync("verify-other", PortalTokenPurpose.Verify, Now, None))?.UserId);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreatePortalTokenAsync_NewResetLinkCollidesWithAStoredHash_ConflictAndEarlierLinkStillWorks(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await PortalUserAsync(store, "collide@example.com");
        await store.CreatePortalTokenAsync(Token(user.Id, "reset-kept", PortalTokenPurpose.Reset, Now.AddHours(1)), None);

        // Act: the new link's insert fails, so the earlier link must not have been ended either
        var error = await Assert.ThrowsAsync<StoreConflictException>(() =>
            store.CreatePortalTokenAsync(Token(user.Id, "reset-kept", PortalTokenPurpose.Reset, Now.AddHours(1)), None));

        // Assert
        Assert.Equal("token", error.Field);
        Assert.Equal(user.Id, (await store.ConsumePortalTokenAsync("reset-kept", PortalTokenPurpose.Reset, Now, None))?.UserId);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ResetPortalPasswordAsync_UsableLink_LinkUsedPasswordSetAddressVerifiedOtherResetLinksEndedInOneWrite(string engine)
    {
        // Arrange: a reset link and a confirmation link out
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await PortalUserAsync(store, "reset-store@example.com");
        await store.CreatePortalTokenAsync(Token(user.Id, "reset-used", PortalTokenPurpose.Reset, Now.AddHours(1)), None);
        await store.CreatePortalTokenAsync(Token(user.Id, "verify-kept", PortalTokenPurpose.Verify, Now.AddHours(24)), None);

        // Act
        var expired = await store.ResetPortalPasswordAsync("reset-used", "hash-late", Now.AddHours(1), activatePending: false, None);
        var asVerify = await store.ResetPortalPasswordAsync("verify-kept", "hash-wrong-link", Now, activatePending: false, None);
        var reset = await store.ResetPortalPasswordAsync("reset-used", "hash-2", Now, activatePending: false, None);
        var again = await store.ResetPortalPasswordAsync("reset-used", "hash-3", Now.AddMinutes(1), activatePending: false, None);

        // Assert: only the usable reset link set a password, and only once
        Assert.Null(expired);
        Assert.Null(asVerify);
        Assert.Equal((user.Id, Now), (reset?.UserId, reset?.UsedAt));
        Assert.Null(again);
        var account = await store.FindPortalAccountAsync(user.Id, None);
        Assert.Equal(("hash-2", Now), (account!.PasswordHash, account.EmailVerifiedAt));
        Assert.Equal(user.Id, (await store.ConsumePortalTokenAsync("verify-kept", PortalTokenPurpose.Verify, Now, None))?.UserId);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ResetPortalPasswordAsync_ActivatePending_PendingUserActiveInTheSameWriteOthersKept(string engine)
    {
        // Arrange: a pending user, a suspended one and a pending one whose reset does not ask for activation, each with
        // a reset link out
        var store = (await engines.CreateAsync(engine)).Store;
        var users = new UserService(store, TimeProvider.System);
        var pending = await WithStatusAsync(users, await PortalUserAsync(store, "pending@example.com"), UserStatus.Pending);
        var suspended = await WithStatusAsync(users, await PortalUserAsync(store, "suspended@example.com"), UserStatus.Suspended);
        var notAsked = await WithStatusAsync(users, await PortalUserAsync(store, "not-asked@example.com"), UserStatus.Pending);
        await store.CreatePortalTokenAsync(Token(pending.Id, "reset-pending", PortalTokenPurpose.Reset, Now.AddHours(1)), None);
        await store.CreatePortalTokenAsync(Token(suspended.Id, "reset-suspended", PortalTokenPurpose.Reset, Now.AddHours(1)), None);
        await store.CreatePortalTokenAsync(Token(notAsked.Id, "reset-not-asked", PortalTokenPurpose.Reset, Now.AddHours(1)), None);
        var version = await store.GetConfigVersionAsync(None);

        // Act
        var activated = await store.ResetPortalPasswordAsync("reset-pending", "hash-pending", Now, activatePending: true, None);
        var versionAfterActivation = await store.GetConfigVersionAsync(None);
        var keptSuspended = await store.ResetPortalPasswordAsync("reset-suspended", "hash-suspended", Now, activatePending: true, None);
        var keptPending = await store.ResetPortalPasswordAsync("reset-not-asked", "hash-not-asked", Now, activatePending: false, None);

        // Assert: the pending user is active with a new row version (and the gateway's configuration with it); the
        // suspended user and the one not asked for are as they were; every password is set
        Assert.Equal((pending.Id, suspended.Id, notAsked.Id), (activated?.UserId, keptSuspended?.UserId, keptPending?.UserId));
        var nowActive = (await store.FindUserAsync(pending.Id, None))!;
        Assert.Equal(UserStatus.Active, nowActive.Status);
        Assert.NotEqual(pending.UpdatedAt, nowActive.UpdatedAt);
        Assert.True(versionAfterActivation > version, $"config version {version} -> {versionAfterActivation}");
        var stillSuspended = (await store.FindUserAsync(suspended.Id, None))!;
        Assert.Equal((UserStatus.Suspended, suspended.UpdatedAt), (stillSuspended.Status, stillSuspended.UpdatedAt));
        var stillPending = (await store.FindUserAsync(notAsked.Id, None))!;
        Assert.Equal((UserStatus.Pending, notAsked.UpdatedAt), (stillPending.Status, stillPending.UpdatedAt));
        Assert.Equal(["hash-pending", "hash-suspended", "hash-not-asked"],
            [(await store.FindPortalAccountAsync(pending.Id, None))!.PasswordHash, (await store.FindPortalAccountAsync(suspended.Id, None))!.PasswordHash,
             (await store.FindPortalAccountAsync(notAsked.Id, None))!.PasswordHash]);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task SetPasswordAndConfirmAddress_Account_UpdatedFirstConfirmationTimeKept(string engine)
    {
        // Arrange: an active user with two confirmation links out, the second made after the first was followed
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await PortalUserAsync(store, "upd@example.com");
        await store.CreatePortalTokenAsync(Token(user.Id, "verify-1", PortalTokenPurpose.Verify, Now.AddDays(2)), None);

        // Act
        var set = await store.SetPortalPasswordAsync(user.Id, "hash-2", Now, None);
        var confirmed = await store.ConfirmPortalAddressAsync("verify-1", Now, None);
        await store.CreatePortalTokenAsync(Token(user.Id, "verify-2", PortalTokenPurpose.Verify, Now.AddDays(2)), None);
        var again = await store.ConfirmPortalAddressAsync("verify-2", Now.AddDays(1), None);
        var usedUp = await store.ConfirmPortalAddressAsync("verify-1", Now.AddDays(1), None);
        var unknown = await store.SetPortalPasswordAsync("usr_none", "x", Now, None);

        // Assert: the first confirmation's time is kept; a used link confirms nothing; the active user stays as it was
        var account = await store.FindPortalAccountAsync(user.Id, None);
        Assert.True(set);
        Assert.Equal((user.Id, user.Id, null), (confirmed?.UserId, again?.UserId, usedUp?.UserId));
        Assert.False(unknown);
        Assert.Equal("hash-2", account!.PasswordHash);
        Assert.Equal(Now, account.EmailVerifiedAt);
        var after = (await store.FindUserAsync(user.Id, None))!;
        Assert.Equal((UserStatus.Active, user.UpdatedAt), (after.Status, after.UpdatedAt));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task DeleteUserAsync_PortalUser_AccountAndTokensGone(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await PortalUserAsync(store, "gone@example.com");
        await store.CreatePortalTokenAsync(Token(user.Id, "gone", PortalTokenPurpose.Verify, Now.AddHours(1)), None);

        // Act
        var deleted = await new UserService(store, TimeProvider.System).DeleteAsync(user.Id, None);

        // Assert
        Assert.True(deleted.Ok, deleted.Error?.ToString());
        Assert.Null(await store.FindPortalAccountAsync(user.Id, None));
        Assert.Null(await store.ConsumePortalTokenAsync("gone", PortalTokenPurpose.Verify, Now, None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdateUser_NewEmail_LinksMailedToTheOldAddressNoLongerWork(string engine)
    {
        // Arrange: a reset link and a confirmation link out, mailed to the address the operator then replaces
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await PortalUserAsync(store, "old-mailbox@example.com");
        await store.CreatePortalTokenAsync(Token(user.Id, "reset-old", PortalTokenPurpose.Reset, Now.AddHours(1)), None);
        await store.CreatePortalTokenAsync(Token(user.Id, "verify-old", PortalTokenPurpose.Verify, Now.AddHours(24)), None);
        var users = new UserService(store, TimeProvider.System);

        // Act
        var moved = await users.UpdateAsync(user.Id, new UserChanges { Email = "new-mailbox@example.com" }, None);

        // Assert
        Assert.True(moved.Ok, moved.Error?.ToString());
        Assert.Null(await store.ConsumePortalTokenAsync("reset-old", PortalTokenPurpose.Reset, Now, None));
        Assert.Null(await store.ConsumePortalTokenAsync("verify-old", PortalTokenPurpose.Verify, Now, None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdateUser_SameEmailOtherCaseOrOtherField_LinksStillWork(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await PortalUserAsync(store, "same-mailbox@example.com");
        await store.CreatePortalTokenAsync(Token(user.Id, "reset-kept", PortalTokenPurpose.Reset, Now.AddHours(1)), None);
        var users = new UserService(store, TimeProvider.System);

        // Act: the same mailbox, written with capitals, and a new name
        var recased = await users.UpdateAsync(user.Id, new UserChanges { Email = "Same-Mailbox@example.com", Name = "Same" }, None);

        // Assert
        Assert.True(recased.Ok, recased.Error?.ToString());
        Assert.Equal(user.Id, (await store.ConsumePortalTokenAsync("reset-kept", PortalTokenPurpose.Reset, Now, None))?.UserId);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateOrUpdateUser_AddressWithADottedCapitalI_RefusedNamingItAndItsPositionOnEveryEngine(string engine)
    {
        // Arrange: alice@example.com has an account. The same letters with a dotted capital I (U+0130) are kept as they
        // are by the stored lower-case form; SQLite's NOCASE does not fold U+0130 (two users) while PostgreSQL's lower()
        // folds it by the database's locale (one user, or two)
        var store = (await engines.CreateAsync(engine)).Store;
        var alice = await PortalUserAsync(store, "alice@example.com");
        var users = new UserService(store, TimeProvider.System);

        // Act
        var created = await users.CreateAsync(new UserChanges { Email = "AL\u0130CE@example.com" }, None);
        var changed = await users.UpdateAsync(alice.Id, new UserChanges { Email = "bob.\u0130@example.com" }, None);

        // Assert: the same answer on every engine, and the one user left as it was
        Assert.Equal("AL\u0130CE@example.com", Core.Text.Emails.Canonical("AL\u0130CE@example.com"));
        Assert.Equal((ManagementErrorKind.Validation, "email",
                "contains a dotted capital I (U+0130 at position 3), which has no lower-case form that every store agrees on, so the address would not have a single spelling"),
            (created.Error?.Kind, created.Error?.Field, created.Error?.Message));
        Assert.Equal((ManagementErrorKind.Validation, "email",
                "contains a dotted capital I (U+0130 at position 5), which has no lower-case form that every store agrees on, so the address would not have a single spelling"),
            (changed.Error?.Kind, changed.Error?.Field, changed.Error?.Message));
        Assert.Equal((alice.Id, "alice@example.com"), (Assert.Single(await store.ListUsersAsync(None)).Id, (await store.FindUserAsync(alice.Id, None))!.Email));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task FindUserAsync_AddressStoredWithADottedCapitalI_FoundByThatLetterOnlyAndAlikeOnEveryEngine(string engine)
    {
        // Arrange: an address stored before such addresses were refused (written with the raw store API, which does not
        // check spellings)
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await NewUserAsync(store, "stored-before@example.com");
        await store.CreatePortalUserAsync(user with { Email = "AL\u0130CE@example.com" }, Account(user.Id), None);

        // Act
        var asStored = await store.FindUserAsync("AL\u0130CE@example.com", None);
        var otherAsciiCase = await store.FindUserAsync("al\u0130ce@EXAMPLE.com", None);
        var withPlainI = await store.FindUserAsync("alice@example.com", None);
        var withCapitalI = await store.FindUserAsync("ALICE@example.com", None);
        var withDotlessI = await store.FindUserAsync("al\u0131ce@example.com", None);

        // Assert: ASCII letters in any case, the dotted capital I only as itself — on SQLite and PostgreSQL alike
        Assert.Equal(user.Id, asStored?.Id);
        Assert.Equal(user.Id, otherAsciiCase?.Id);
        Assert.Null(withPlainI);
        Assert.Null(withCapitalI);
        Assert.Null(withDotlessI);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdatePlan_Visible_RoundTrips(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var plans = new PlanService(store, TimeProvider.System);
        await plans.CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None);

        // Act
        var shown = await plans.UpdateAsync("pro", new PlanInput { Visible = true }, None);
        var reread = await store.FindPlanAsync("pro", None);
        var hidden = await plans.UpdateAsync("pro", new PlanInput { Visible = false }, None);

        // Assert
        Assert.True(shown.Value!.Visible);
        Assert.True(reread!.Visible);
        Assert.False(hidden.Value!.Visible);
        Assert.False((await store.FindPlanAsync("pro", None))!.Visible);
    }

    private static async Task<UserDefinition> NewUserAsync(IGatewayStore store, string email)
    {
        var built = await new UserService(store, TimeProvider.System).BuildNewAsync(new UserChanges { Email = email }, None);
        Assert.True(built.Ok, built.Error?.ToString());
        return built.Value!;
    }

    private static async Task<UserDefinition> PortalUserAsync(IGatewayStore store, string email)
    {
        var user = await NewUserAsync(store, email);
        await store.CreatePortalUserAsync(user, Account(user.Id), None);
        return user;
    }

    private static async Task<UserDefinition> WithStatusAsync(UserService users, UserDefinition user, UserStatus status)
    {
        var changed = await users.UpdateAsync(user.Id, new UserChanges { Status = status }, None);
        Assert.True(changed.Ok, changed.Error?.ToString());
        return changed.Value!;
    }

    private static PortalAccount Account(string userId) => new() { UserId = userId, PasswordHash = "hash-1", CreatedAt = Now, UpdatedAt = Now };

    private static PortalToken Token(string userId, string hash, PortalTokenPurpose purpose, DateTimeOffset expires) =>
        new() { Id = Core.Text.Ids.New("ptk"), UserId = userId, Purpose = purpose, Hash = hash, CreatedAt = Now, ExpiresAt = expires };
}
