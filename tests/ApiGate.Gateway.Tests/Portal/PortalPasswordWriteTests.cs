using ApiGate.Core.Portal;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>
/// The portal's password writes on every engine: a reset link used up and its password set together or not at all.
/// Real stores (a SQLite file, a PostgreSQL server), with failures made by the database itself.
/// </summary>
public sealed class PortalPasswordWriteTests(StoreEngines engines) : IClassFixture<StoreEngines>, IDisposable
{
    private const string Origin = "http://127.0.0.1:1";
    private const string Address = "203.0.113.7";
    private const string OldPassword = "the old password";
    private const string NewPassword = "the owner's new password";
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.Zero));
    private readonly List<PortalMailQueue> _queues = [];

    public void Dispose()
    {
        foreach (var queue in _queues)
        {
            queue.Dispose();
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ResetAsync_PasswordWriteFailsInTheDatabase_LinkNotUsedUpOldPasswordHoldsAndTheLinkWorksAfter(string engine)
    {
        // Arrange: a reset link out, and the database refusing every write of a password hash (a trigger)
        var created = await engines.CreateAsync(engine);
        var portal = Portal(created.Store);
        var user = await SignedUpAsync(portal, created.Store, "fails@example.com");
        var token = await ResetLinkAsync(created.Store, user.Id);
        await using var raw = await created.OpenRawAsync();
        await ExecuteAsync(raw, engine == GatewayStores.Sqlite
            ? "CREATE TRIGGER refuse_password BEFORE UPDATE OF password_hash ON portal_accounts BEGIN SELECT RAISE(ABORT, 'password writes refused by the test'); END"
            : "CREATE FUNCTION refuse_password() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'password writes refused by the test'; END $$; " +
              "CREATE TRIGGER refuse_password BEFORE UPDATE OF password_hash ON portal_accounts FOR EACH ROW EXECUTE FUNCTION refuse_password()");

        // Act
        var failure = await Record.ExceptionAsync(() => portal.ResetAsync(token, NewPassword, None));
        var withOldMeanwhile = await portal.LoginAsync("fails@example.com", OldPassword, Address, None);
        await ExecuteAsync(raw, engine == GatewayStores.Sqlite ? "DROP TRIGGER refuse_password" : "DROP TRIGGER refuse_password ON portal_accounts");
        var retried = await portal.ResetAsync(token, NewPassword, None);

        // Assert: the failed attempt changed nothing — the old password still holds, and the link was not used up
        Assert.Contains("password writes refused by the test", failure?.Message, StringComparison.Ordinal);
        Assert.True(withOldMeanwhile.Ok, withOldMeanwhile.Message);
        Assert.Equal((true, "Your password is changed. Log in with the new one."), (retried.Ok, retried.Message));
        Assert.True((await portal.LoginAsync("fails@example.com", NewPassword, Address, None)).Ok);
        Assert.Equal((false, PortalAccountService.LoginFailed), Outcome(await portal.LoginAsync("fails@example.com", OldPassword, Address, None)));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ResetAsync_PendingUserAndTheActivationFailsInTheDatabase_NothingChangedAndTheLinkWorksAfter(string engine)
    {
        // Arrange: verification required, a pending user with a reset link out, and the database refusing every write
        // of a user's status (a trigger)
        var created = await engines.CreateAsync(engine);
        var portal = Portal(created.Store, requireVerification: true);
        var user = await PendingAsync(created.Store, "pending-fails@example.com");
        var token = await ResetLinkAsync(created.Store, user.Id);
        await using var raw = await created.OpenRawAsync();
        await RefuseStatusWritesAsync(raw, engine);

        // Act
        var failure = await Record.ExceptionAsync(() => portal.ResetAsync(token, NewPassword, None));
        var meanwhile = await created.Store.FindPortalAccountAsync(user.Id, None);
        var statusMeanwhile = (await created.Store.FindUserAsync(user.Id, None))!.Status;
        await AllowStatusWritesAsync(raw, engine);
        var retried = await portal.ResetAsync(token, NewPassword, None);

        // Assert: the failed attempt changed nothing (the old password, the address unconfirmed, the user pending, the
        // link usable); the retry did all of it
        Assert.Contains("status writes refused by the test", failure?.Message, StringComparison.Ordinal);
        Assert.True(PortalPasswords.Verify(meanwhile!.PasswordHash, OldPassword, out _));
        Assert.Null(meanwhile.EmailVerifiedAt);
        Assert.Equal(Core.Identity.UserStatus.Pending, statusMeanwhile);
        Assert.Equal((true, "Your password is changed. Log in with the new one."), Outcome(retried));
        Assert.Equal(Core.Identity.UserStatus.Active, (await created.Store.FindUserAsync(user.Id, None))!.Status);
        Assert.True((await portal.LoginAsync("pending-fails@example.com", NewPassword, Address, None)).Ok);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task VerifyAsync_PendingUserAndTheActivationFailsInTheDatabase_NothingChangedAndTheLinkWorksAfter(string engine)
    {
        // Arrange: a pending user with a confirmation link out, and the database refusing every write of a user's status
        // (a trigger)
        var created = await engines.CreateAsync(engine);
        var portal = Portal(created.Store, requireVerification: true);
        var user = await PendingAsync(created.Store, "confirm-fails@example.com");
        var token = await LinkAsync(created.Store, user.Id, PortalTokenPurpose.Verify, PortalOptions.VerifyLifetime);
        await using var raw = await created.OpenRawAsync();
        await RefuseStatusWritesAsync(raw, engine);

        // Act
        var failure = await Record.ExceptionAsync(() => portal.VerifyAsync(token, None));
        var meanwhile = await created.Store.FindPortalAccountAsync(user.Id, None);
        var statusMeanwhile = (await created.Store.FindUserAsync(user.Id, None))!.Status;
        await AllowStatusWritesAsync(raw, engine);
        var retried = await portal.VerifyAsync(token, None);

        // Assert: the failed attempt changed nothing (the address unconfirmed, the user pending, the link usable); the
        // retry did all of it
        Assert.Contains("status writes refused by the test", failure?.Message, StringComparison.Ordinal);
        Assert.Null(meanwhile!.EmailVerifiedAt);
        Assert.Equal(Core.Identity.UserStatus.Pending, statusMeanwhile);
        Assert.Equal((true, "Your email address is confirmed. You can log in now."), Outcome(retried));
        Assert.Equal(_clock.GetUtcNow(), (await created.Store.FindPortalAccountAsync(user.Id, None))!.EmailVerifiedAt);
        Assert.Equal(Core.Identity.UserStatus.Active, (await created.Store.FindUserAsync(user.Id, None))!.Status);
        Assert.Equal((false, PortalAccountService.LinkUnusable), Outcome(await portal.VerifyAsync(token, None)));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task VerifyAsync_SuspendedUser_AddressConfirmedUserStaysSuspendedAndUnchanged(string engine)
    {
        // Arrange
        var created = await engines.CreateAsync(engine);
        var portal = Portal(created.Store, requireVerification: true);
        var signedUp = await SignedUpAsync(Portal(created.Store), created.Store, "suspended-confirm@example.com");
        Assert.True((await new Core.Management.UserService(created.Store, _clock).UpdateAsync(signedUp.Id,
            new Core.Management.UserChanges { Status = Core.Identity.UserStatus.Suspended }, None)).Ok);
        var suspended = (await created.Store.FindUserAsync(signedUp.Id, None))!;
        var token = await LinkAsync(created.Store, suspended.Id, PortalTokenPurpose.Verify, PortalOptions.VerifyLifetime);
        _clock.Advance(TimeSpan.FromMinutes(1));

        // Act
        var confirmed = await portal.VerifyAsync(token, None);

        // Assert: the address is confirmed, and the operator's suspension is kept, row version and all
        Assert.Equal((true, "Your email address is confirmed. You can log in now."), Outcome(confirmed));
        Assert.Equal(_clock.GetUtcNow(), (await created.Store.FindPortalAccountAsync(suspended.Id, None))!.EmailVerifiedAt);
        var after = (await created.Store.FindUserAsync(suspended.Id, None))!;
        Assert.Equal((Core.Identity.UserStatus.Suspended, suspended.UpdatedAt), (after.Status, after.UpdatedAt));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ResetAsync_SuspendedUserWithVerificationRequired_PasswordSetUserStaysSuspendedAndUnchanged(string engine)
    {
        // Arrange
        var created = await engines.CreateAsync(engine);
        var portal = Portal(created.Store, requireVerification: true);
        var signedUp = await SignedUpAsync(Portal(created.Store), created.Store, "suspended-reset@example.com");
        Assert.True((await new Core.Management.UserService(created.Store, _clock).UpdateAsync(signedUp.Id,
            new Core.Management.UserChanges { Status = Core.Identity.UserStatus.Suspended }, None)).Ok);
        var suspended = (await created.Store.FindUserAsync(signedUp.Id, None))!;
        var token = await ResetLinkAsync(created.Store, suspended.Id);
        _clock.Advance(TimeSpan.FromMinutes(1));

        // Act
        var reset = await portal.ResetAsync(token, NewPassword, None);

        // Assert: the password is set, and the operator's suspension is kept, row version and all
        Assert.Equal((true, "Your password is changed. Log in with the new one."), Outcome(reset));
        Assert.True(PortalPasswords.Verify((await created.Store.FindPortalAccountAsync(suspended.Id, None))!.PasswordHash, NewPassword, out _));
        var after = (await created.Store.FindUserAsync(suspended.Id, None))!;
        Assert.Equal((Core.Identity.UserStatus.Suspended, suspended.UpdatedAt), (after.Status, after.UpdatedAt));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ResetAsync_LinkUsedUpBetweenTheCheckAndTheWrite_SecondPostRefusedAndTheFirstPasswordKept(string engine)
    {
        // Arrange: two posts of one link; the second passes the read check, then the first commits before its write
        var created = await engines.CreateAsync(engine);
        var hook = HookedStore.Wrap(created.Store, nameof(IGatewayStore.ResetPortalPasswordAsync));
        var portal = Portal(hook.Store);
        var user = await SignedUpAsync(Portal(created.Store), created.Store, "twice@example.com");
        var token = await ResetLinkAsync(created.Store, user.Id);
        var first = Portal(created.Store);
        PortalResult? firstResult = null;
        hook.Before = async () => firstResult = await first.ResetAsync(token, NewPassword, None);

        // Act
        var second = await portal.ResetAsync(token, "the second post's password", None);

        // Assert
        Assert.Null(hook.Before); // the first post did land between the second's check and its write
        Assert.Equal((true, "Your password is changed. Log in with the new one."), Outcome(firstResult!));
        Assert.Equal((false, PortalAccountService.LinkUnusable), Outcome(second));
        Assert.True((await first.LoginAsync("twice@example.com", NewPassword, Address, None)).Ok);
        Assert.Equal((false, PortalAccountService.LoginFailed), Outcome(await first.LoginAsync("twice@example.com", "the second post's password", Address, None)));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task LoginAsync_OlderHashFormatAndAResetLandsBeforeTheRehashIsWritten_ResetPasswordKept(string engine)
    {
        // Arrange: a password stored in an older hash format (re-hashed at the next login); someone logs in with it while
        // the owner resets it, and the reset lands after the login's password check, before its re-hash is written
        var created = await engines.CreateAsync(engine);
        var hook = new StoreWithAHook();
        var portal = Portal(StoreWithAHook.Wrap(created.Store, hook));
        var user = await SignedUpAsync(Portal(created.Store), created.Store, "rehash@example.com");
        var olderFormat = OlderFormatHash(OldPassword);
        Assert.True(await created.Store.SetPortalPasswordAsync(user.Id, olderFormat, _clock.GetUtcNow(), None));
        var resetTo = PortalPasswords.Hash(NewPassword);
        hook.AfterLoginSucceeded = () => created.Store.SetPortalPasswordAsync(user.Id, resetTo, _clock.GetUtcNow(), None);

        // Act
        var login = await portal.LoginAsync("rehash@example.com", OldPassword, Address, None);

        // Assert: the reset landed inside the window and is what is stored; the login's session is bound to the hash it
        // verified, which is no longer the stored one
        Assert.Null(hook.AfterLoginSucceeded);
        Assert.True(login.Ok, login.Message);
        Assert.Equal(resetTo, (await created.Store.FindPortalAccountAsync(user.Id, None))!.PasswordHash);
        Assert.Equal(olderFormat, login.PasswordHash);
        Assert.Equal((false, PortalAccountService.LoginFailed), Outcome(await Portal(created.Store).LoginAsync("rehash@example.com", OldPassword, Address, None)));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task LoginAsync_OlderHashFormatNothingChangedMeanwhile_RehashWrittenAndTheSessionBoundToIt(string engine)
    {
        // Arrange
        var created = await engines.CreateAsync(engine);
        var portal = Portal(created.Store);
        var user = await SignedUpAsync(portal, created.Store, "upgrade@example.com");
        var olderFormat = OlderFormatHash(OldPassword);
        Assert.True(await created.Store.SetPortalPasswordAsync(user.Id, olderFormat, _clock.GetUtcNow(), None));

        // Act
        var login = await portal.LoginAsync("upgrade@example.com", OldPassword, Address, None);

        // Assert: the stored hash is the re-hash, in the current format, of the same password
        var stored = (await created.Store.FindPortalAccountAsync(user.Id, None))!.PasswordHash;
        Assert.True(login.Ok, login.Message);
        Assert.NotEqual(olderFormat, stored);
        Assert.Equal(stored, login.PasswordHash);
        Assert.True(PortalPasswords.Verify(stored, OldPassword, out var rehashAgain));
        Assert.False(rehashAgain);
    }

    /// <summary>ASP.NET Core Identity's version 2 format (PBKDF2-HMAC-SHA1), which the current hasher accepts and asks to re-hash.</summary>
    private static string OlderFormatHash(string password)
    {
        var hasher = new Microsoft.AspNetCore.Identity.PasswordHasher<PortalAccount>(Microsoft.Extensions.Options.Options.Create(
            new Microsoft.AspNetCore.Identity.PasswordHasherOptions { CompatibilityMode = Microsoft.AspNetCore.Identity.PasswordHasherCompatibilityMode.IdentityV2 }));
        var hash = hasher.HashPassword(null!, password);
        Assert.True(PortalPasswords.Verify(hash, password, out var rehash) && rehash);
        return hash;
    }

    private static (bool, string) Outcome(PortalResult result) => (result.Ok, result.Message);

    private async Task<Core.Identity.UserDefinition> SignedUpAsync(PortalAccountService portal, IGatewayStore store, string email)
    {
        var signedUp = await portal.SignUpAsync(email, OldPassword, Origin, Address, None);
        Assert.True(signedUp.Ok, signedUp.Message);
        return (await store.FindUserAsync(email, None))!;
    }

    /// <summary>A reset link as the forgot form issues it (stored by its hash), without a mail server in between.</summary>
    private Task<string> ResetLinkAsync(IGatewayStore store, string userId) => LinkAsync(store, userId, PortalTokenPurpose.Reset, PortalOptions.ResetLifetime);

    /// <summary>A link of <paramref name="purpose"/> as the portal issues it (stored by its hash), without a mail server in between.</summary>
    private async Task<string> LinkAsync(IGatewayStore store, string userId, PortalTokenPurpose purpose, TimeSpan lifetime)
    {
        var token = OneTimeTokens.Generate();
        var now = _clock.GetUtcNow();
        await store.CreatePortalTokenAsync(new PortalToken
        {
            Id = Core.Text.Ids.New("ptk"),
            UserId = userId,
            Purpose = purpose,
            Hash = OneTimeTokens.Hash(token),
            CreatedAt = now,
            ExpiresAt = now + lifetime,
        }, None);
        return token;
    }

    /// <summary>A user who signed up and is pending (as with verification required), with <see cref="OldPassword"/>.</summary>
    private async Task<Core.Identity.UserDefinition> PendingAsync(IGatewayStore store, string email)
    {
        var user = await SignedUpAsync(Portal(store), store, email);
        var changed = await new Core.Management.UserService(store, _clock).UpdateAsync(user.Id, new Core.Management.UserChanges { Status = Core.Identity.UserStatus.Pending }, None);
        Assert.True(changed.Ok, changed.Error?.ToString());
        return changed.Value!;
    }

    private PortalAccountService Portal(IGatewayStore store, bool requireVerification = false)
    {
        // No SMTP: no mail is sent; verification off by default, so accounts are active at sign-up
        var options = new PortalOptions { Enabled = true, AppName = "Portal Test", BaseUrl = "https://developers.example.com", RequireVerification = requireVerification };
        var counter = new Identity.AttemptCounter(store, _clock);
        var queue = new PortalMailQueue(options, counter, NullLogger<PortalMailQueue>.Instance);
        _queues.Add(queue);
        var billing = new Core.Management.BillingService(null, store, store, _clock, Core.Billing.PaymentFailedAction.Suspend);
        return new PortalAccountService(store, options, queue, new PortalLinkRequestQueue(NullLogger<PortalLinkRequestQueue>.Instance), new LoginLimiter(counter), billing,
            _clock, NullLogger<PortalAccountService>.Instance);
    }

    /// <summary>Makes the database refuse every write of a user's status (a trigger), as a failing write would.</summary>
    private static Task RefuseStatusWritesAsync(System.Data.Common.DbConnection raw, string engine) =>
        ExecuteAsync(raw, engine == GatewayStores.Sqlite
            ? "CREATE TRIGGER refuse_status BEFORE UPDATE OF status ON users BEGIN SELECT RAISE(ABORT, 'status writes refused by the test'); END"
            : "CREATE FUNCTION refuse_status() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'status writes refused by the test'; END $$; " +
              "CREATE TRIGGER refuse_status BEFORE UPDATE OF status ON users FOR EACH ROW EXECUTE FUNCTION refuse_status()");

    /// <summary>Ends <see cref="RefuseStatusWritesAsync"/>.</summary>
    private static Task AllowStatusWritesAsync(System.Data.Common.DbConnection raw, string engine) =>
        ExecuteAsync(raw, engine == GatewayStores.Sqlite ? "DROP TRIGGER refuse_status" : "DROP TRIGGER refuse_status ON users");

    private static async Task ExecuteAsync(System.Data.Common.DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }
}
