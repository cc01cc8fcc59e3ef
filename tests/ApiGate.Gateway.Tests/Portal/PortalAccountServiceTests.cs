using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Sql;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>
/// Portal accounts end to end below the pages: a real store, a real SMTP server on loopback receiving the emails the
/// background queue sends with MailKit, a fake clock for link expiry and the login limiter.
/// </summary>
public sealed class PortalAccountServiceTests(StoreEngines engines) : IClassFixture<StoreEngines>, IAsyncLifetime
{
    private const string Origin = "http://127.0.0.1:1";
    private const string Address = "203.0.113.7";
    private static readonly CancellationToken None = CancellationToken.None;

    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.Zero));
    private readonly TestSmtpServer _smtp = TestSmtpServer.Start();
    private readonly List<PortalMailQueue> _queues = [];
    private readonly List<PortalLinkRequestWorker> _workers = [];
    private SqlGatewayStore _store = null!;

    public async Task InitializeAsync() => _store = (await engines.CreateAsync(GatewayStores.Sqlite)).Store;

    public async Task DisposeAsync()
    {
        foreach (var worker in _workers)
        {
            await worker.StopAsync(None);
            worker.Dispose();
        }

        foreach (var queue in _queues)
        {
            await queue.StopAsync(None);
            queue.Dispose();
        }

        await _smtp.DisposeAsync();
    }

    [Fact]
    public async Task SignUpAsync_NewEmail_PendingUserOnDefaultPlanAndVerificationEmailSent()
    {
        // Arrange
        var portal = await PortalAsync();

        // Act
        var result = await portal.SignUpAsync("new@example.com", "correct horse battery", Origin, Address, None);
        var email = await _smtp.NextToAsync("new@example.com");

        // Assert
        Assert.True(result.Ok);
        Assert.Equal("We sent a link to new@example.com. Follow it within 24 hours to confirm your address, then log in.", result.Message);
        var user = await _store.FindUserAsync("new@example.com", None);
        Assert.Equal(("free", UserStatus.Pending), (user!.PlanId, user.Status));
        Assert.Equal("Portal Test: confirm your email address", email.Subject);
        Assert.Equal("no-reply@example.com", email.From.Mailboxes.Single().Address);
        Assert.StartsWith("https://developers.example.com/portal/verify?token=", TestSmtpServer.LinkIn(email, "/portal/verify"));
        var account = await _store.FindPortalAccountAsync(user.Id, None);
        Assert.DoesNotContain("correct horse", account!.PasswordHash);
        Assert.StartsWith("AQAAAA", account.PasswordHash); // ASP.NET Core Identity's v3 format
    }

    [Fact]
    public async Task VerifyAsync_LinkFromEmail_ActivatesOnceAndReuseRefused()
    {
        // Arrange
        var portal = await PortalAsync();
        await portal.SignUpAsync("verify@example.com", "correct horse battery", Origin, Address, None);
        var token = TokenOf(TestSmtpServer.LinkIn(await _smtp.NextToAsync("verify@example.com"), "/portal/verify"));
        var before = await portal.LoginAsync("verify@example.com", "correct horse battery", Address, None);

        // Act
        var verified = await portal.VerifyAsync(token, None);
        var reused = await portal.VerifyAsync(token, None);
        var login = await portal.LoginAsync("verify@example.com", "correct horse battery", Address, None);

        // Assert
        Assert.False(before.Ok);
        Assert.StartsWith("Confirm your email address first", before.Message);
        Assert.True(before.Unconfirmed); // the login page offers a new link on this refusal alone
        Assert.True(verified.Ok);
        Assert.Equal((false, PortalAccountService.LinkUnusable), (reused.Ok, reused.Message));
        Assert.True(login.Ok, login.Message);
        Assert.Equal(UserStatus.Active, login.User!.Status);
    }

    [Fact]
    public async Task VerifyAsync_OperatorChangesAroundTheActivation_EarlierChangeKeptStaleWriteRefusedActivationKept()
    {
        // Arrange: a pending user renamed by the operator before the link is followed, and an operator's form read
        // before the activation (its row version) and saved after it
        var portal = await PortalAsync();
        await portal.SignUpAsync("race@example.com", "correct horse battery", Origin, Address, None);
        var token = TokenOf(TestSmtpServer.LinkIn(await _smtp.NextToAsync("race@example.com"), "/portal/verify"));
        var users = new UserService(_store, _clock);
        var signedUp = (await _store.FindUserAsync("race@example.com", None))!;
        Assert.True((await users.UpdateAsync(signedUp.Id, new UserChanges { Name = "Renamed before" }, None)).Ok);
        var readByTheOperator = (await _store.FindUserAsync(signedUp.Id, None))!;

        // Act
        var verified = await portal.VerifyAsync(token, None);
        var staleWrite = await Record.ExceptionAsync(() => _store.UpdateUserAsync(
            readByTheOperator with { Name = "Stale form", UpdatedAt = readByTheOperator.UpdatedAt.AddTicks(10) }, readByTheOperator.UpdatedAt, None));

        // Assert: the rename made before is kept, the stale form's save is refused (it would have put the user back to
        // pending), and the user is active
        Assert.True(verified.Ok, verified.Message);
        Assert.IsType<Core.Storage.StoreChangedMeanwhileException>(staleWrite);
        var user = (await _store.FindUserAsync("race@example.com", None))!;
        Assert.Equal((UserStatus.Active, "Renamed before"), (user.Status, user.Name));
        Assert.NotEqual(readByTheOperator.UpdatedAt, user.UpdatedAt);
    }

    [Fact]
    public async Task ResendVerificationAsync_NewLink_EarlierLinkRefusedNewOneWorksAndTheMailSaysSo()
    {
        // Arrange: the sign-up's link, then a new one asked for from the account page
        var portal = await PortalAsync();
        await portal.SignUpAsync("resend@example.com", "correct horse battery", Origin, Address, None);
        var first = TokenOf(TestSmtpServer.LinkIn(await _smtp.NextToAsync("resend@example.com"), "/portal/verify"));
        var user = (await _store.FindUserAsync("resend@example.com", None))!;
        var resent = await portal.ResendVerificationAsync(user.Id, Origin, None);
        var email = await _smtp.NextToAsync("resend@example.com");
        var second = TokenOf(TestSmtpServer.LinkIn(email, "/portal/verify"));

        // Act
        var withFirst = await portal.VerifyAsync(first, None);
        var withSecond = await portal.VerifyAsync(second, None);

        // Assert
        Assert.Equal((true, "We sent a new link to resend@example.com."), (resent.Ok, resent.Message));
        Assert.Contains("follow this link within 24 hours. It replaces any confirmation link we sent you before, which no longer works:",
            email.TextBody, StringComparison.Ordinal);
        Assert.Equal((false, PortalAccountService.LinkUnusable), (withFirst.Ok, withFirst.Message));
        Assert.Equal((true, "Your email address is confirmed. You can log in now."), (withSecond.Ok, withSecond.Message));
        Assert.Equal(UserStatus.Active, (await _store.FindUserAsync(user.Id, None))!.Status);
    }

    [Fact]
    public async Task VerifyAsync_After24Hours_Refused()
    {
        // Arrange
        var portal = await PortalAsync();
        await portal.SignUpAsync("late@example.com", "correct horse battery", Origin, Address, None);
        var token = TokenOf(TestSmtpServer.LinkIn(await _smtp.NextToAsync("late@example.com"), "/portal/verify"));
        _clock.Advance(TimeSpan.FromHours(24));

        // Act
        var result = await portal.VerifyAsync(token, None);

        // Assert
        Assert.Equal((false, PortalAccountService.LinkUnusable), (result.Ok, result.Message));
        Assert.Equal(UserStatus.Pending, (await _store.FindUserAsync("late@example.com", None))!.Status);
    }

    [Fact]
    public async Task SignUpAsync_DuplicateEmail_SameAnswerNothingCreatedOwnerTold()
    {
        // Arrange
        var portal = await PortalAsync();
        var first = await portal.SignUpAsync("dup@example.com", "correct horse battery", Origin, Address, None);
        await _smtp.NextToAsync("dup@example.com");

        // Act
        var second = await portal.SignUpAsync("Dup@Example.com", "another password!", Origin, Address, None);
        var note = await _smtp.NextToAsync("dup@example.com");

        // Assert
        Assert.Equal(first with { Message = first.Message.Replace("dup@example.com", "Dup@Example.com") }, second);
        Assert.Equal("Portal Test: sign-up attempt", note.Subject);
        Assert.Single(await _store.ListUsersAsync(None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task SignUpAsync_MailboxStoredUnderAnOlderSpelling_AnsweredAsARegisteredAddressOwnerToldNoSecondUser(string engine)
    {
        // Arrange: accounts stored before the spelling rules (their address rewritten as it was stored then), and an
        // address registered in its kept spelling, whose answer is the one a taken address gets
        var created = await engines.CreateAsync(engine);
        var store = created.Store;
        var portal = await PortalAsync(store: store);
        Assert.True((await portal.SignUpAsync("ann@example.com", "correct horse battery", Origin, Address, None)).Ok);
        await _smtp.NextToAsync("ann@example.com");
        string[] older = ["bob@XN--BCHER-KVA.example", "cid@b\u00fccher.example.", "dan@xn--bcher-kva.example."];
        await StoreUnderOlderSpellingsAsync(created, portal, true, older);
        var registered = await portal.SignUpAsync("ann@example.com", "another password!", Origin, Address, None);
        await _smtp.NextToAsync("ann@example.com");

        foreach (var stored in older)
        {
            var kept = Core.Text.Emails.KeptSpelling(stored)!;

            // Act
            var result = await portal.SignUpAsync(kept, "another password!", Origin, Address, None);
            var note = await _smtp.NextToAsync(kept);

            // Assert
            Assert.Equal(registered with { Message = registered.Message.Replace("ann@example.com", kept) }, result);
            Assert.Equal("Portal Test: sign-up attempt", note.Subject);
        }

        Assert.Equal(["ann@example.com", .. older], (await store.ListUsersAsync(None)).Select(u => u.Email).Order(StringComparer.Ordinal));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task SignUpAsync_MailboxStoredUnderAnOlderSpellingVerificationOff_AnsweredAsARegisteredAddressNoSecondUser(string engine)
    {
        // Arrange
        var created = await engines.CreateAsync(engine);
        var store = created.Store;
        var portal = await PortalAsync(requireVerification: false, store: store);
        Assert.True((await portal.SignUpAsync("ann@example.com", "correct horse battery", Origin, Address, None)).Ok);
        await StoreUnderOlderSpellingsAsync(created, portal, false, "bob@XN--BCHER-KVA.example");
        var registered = await portal.SignUpAsync("ann@example.com", "another password!", Origin, Address, None);

        // Act
        var result = await portal.SignUpAsync("bob@b\u00fccher.example", "another password!", Origin, Address, None);

        // Assert
        Assert.Equal((true, "If bob@b\u00fccher.example was not registered yet, its account is ready: log in with your password."), (result.Ok, result.Message));
        Assert.Equal(registered with { Message = registered.Message.Replace("ann@example.com", "bob@b\u00fccher.example") }, result);
        Assert.Equal(PortalAccountService.LoginFailed, (await portal.LoginAsync("bob@b\u00fccher.example", "another password!", Address, None)).Message);
        Assert.Equal(["ann@example.com", "bob@XN--BCHER-KVA.example"], (await store.ListUsersAsync(None)).Select(u => u.Email).Order(StringComparer.Ordinal));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task LoginAsync_MailboxStoredUnderAnOlderSpellingTypedInItsKeptSpelling_SignsItsOwnerIn(string engine)
    {
        // Arrange: accounts stored before the spelling rules, as their owners' browsers now type them (the kept spelling)
        var created = await engines.CreateAsync(engine);
        var portal = await PortalAsync(requireVerification: false, store: created.Store);
        string[] older = ["bob@XN--BCHER-KVA.example", "cid@b\u00fccher.example.", "dan@xn--bcher-kva.example."];
        await StoreUnderOlderSpellingsAsync(created, portal, false, older);

        foreach (var stored in older)
        {
            var kept = Core.Text.Emails.KeptSpelling(stored)!;

            // Act
            var login = await portal.LoginAsync(kept, "correct horse battery", Address, None);

            // Assert: the account as it was stored (before, "Email or password is incorrect.")
            Assert.Equal((kept, true, "", stored), (kept, login.Ok, login.Ok ? "" : login.Message, login.User?.Email));
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task LoginAsync_AddressStoredWithAnIdeographicFullStopOrFullwidthCharactersTypedInItsKeptSpelling_SignsItsOwnerIn(string engine)
    {
        // Arrange: spellings IDNA and NFKC turn into the kept one, as stored before the spelling rules
        var created = await engines.CreateAsync(engine);
        var portal = await PortalAsync(requireVerification: false, store: created.Store);
        string[] older = ["eve@mail\u3002example.com", "fay@mail\uff0eexample.com", "gus@\uff4dail.example.com", "hal@mail.example.com\uff61"];
        await StoreUnderOlderSpellingsAsync(created, portal, false, older);

        // Act
        var logins = new List<(bool Ok, string? Email)>();
        foreach (var stored in older)
        {
            var login = await portal.LoginAsync(Core.Text.Emails.KeptSpelling(stored)!, "correct horse battery", Address, None);
            logins.Add((login.Ok, login.User?.Email));
        }

        // Assert: each account as it was stored (before, "Email or password is incorrect.")
        Assert.Equal(older.Select(stored => (true, (string?)stored)), logins);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task SignUpAsync_MailboxStoredWithAnIdeographicFullStopOrFullwidthCharacters_AnsweredAsARegisteredAddressNoSecondUser(string engine)
    {
        // Arrange
        var created = await engines.CreateAsync(engine);
        var store = created.Store;
        var portal = await PortalAsync(requireVerification: false, store: store);
        string[] older = ["eve@mail\u3002example.com", "gus@\uff4dail.example.com"];
        await StoreUnderOlderSpellingsAsync(created, portal, false, older);

        foreach (var stored in older)
        {
            var kept = Core.Text.Emails.KeptSpelling(stored)!;

            // Act
            var result = await portal.SignUpAsync(kept, "another password!", Origin, Address, None);

            // Assert: answered as a taken address is, and the old password still the one that logs in
            Assert.Equal((true, $"If {kept} was not registered yet, its account is ready: log in with your password."), (result.Ok, result.Message));
            Assert.Equal(PortalAccountService.LoginFailed, (await portal.LoginAsync(kept, "another password!", Address, None)).Message);
        }

        Assert.Equal(older.Order(StringComparer.Ordinal), (await store.ListUsersAsync(None)).Select(u => u.Email).Order(StringComparer.Ordinal));
    }

    /// <summary>
    /// Signs each address up in the spelling it keeps now (taking its confirmation email when one is sent), then rewrites
    /// it in the store as <paramref name="older"/> has it: what an account made before the spelling rules looks like.
    /// </summary>
    private async Task StoreUnderOlderSpellingsAsync(EngineStore engine, PortalAccountService portal, bool mailed, params string[] older)
    {
        foreach (var stored in older)
        {
            var kept = Core.Text.Emails.KeptSpelling(stored)!;
            Assert.True((await portal.SignUpAsync(kept, "correct horse battery", Origin, Address, None)).Ok);
            if (mailed)
            {
                await _smtp.NextToAsync(kept);
            }

            var user = (await engine.Store.FindUserAsync(kept, None))!;
            Assert.Equal(1, await engine.ExecuteRawAsync("UPDATE users SET email = @email WHERE id = @id", ("email", stored), ("id", user.Id)));
        }
    }

    [Theory]
    [InlineData("not-an-email", "correct horse battery", "'not-an-email' is not an email address.", "email")]
    [InlineData("a@b", "correct horse battery", "'a@b' is not an email address.", "email")]
    [InlineData("two@@example.com", "correct horse battery", "'two@@example.com' is not an email address.", "email")]
    [InlineData("a@[127.0.0.1]", "correct horse battery", "'a@[127.0.0.1]' is not an email address.", "email")]
    [InlineData("", "correct horse battery", "Enter your email address.", "email")]
    [InlineData("short@example.com", "short", "Password must be at least 10 characters.", "password")]
    [InlineData("short@example.com", "", "Enter a password.", "password")]
    public async Task SignUpAsync_BadInput_ClearMessageNamingTheFieldAndNoUser(string email, string password, string message, string field)
    {
        // Arrange
        var portal = await PortalAsync();

        // Act
        var result = await portal.SignUpAsync(email, password, Origin, Address, None);

        // Assert
        Assert.Equal((false, message, field), (result.Ok, result.Message, result.Field));
        Assert.Empty(await _store.ListUsersAsync(None));
    }

    [Theory]
    [InlineData("short")]
    [InlineData("")]
    [InlineData(" ")]
    public async Task SignUpAsync_PasswordRefused_SameMessageAndFieldForARegisteredAddressAsForANewOne(string password)
    {
        // Arrange
        var portal = await PortalAsync();
        Assert.True((await portal.SignUpAsync("taken@example.com", "correct horse battery", Origin, Address, None)).Ok);
        await _smtp.NextToAsync("taken@example.com");

        // Act
        var registered = await portal.SignUpAsync("Taken@Example.com", password, Origin, Address, None);
        var unregistered = await portal.SignUpAsync("free@example.com", password, Origin, Address, None);

        // Assert: the field marked says nothing about the address either
        Assert.Equal((false, PortalAccountService.PasswordField), (registered.Ok, registered.Field));
        Assert.Equal(unregistered, registered);
        Assert.Single(await _store.ListUsersAsync(None));
    }

    [Fact]
    public async Task SignUpAsync_HugeFields_ClearMessageAndNoUser()
    {
        // Arrange
        var portal = await PortalAsync();
        var hugeEmail = new string('a', 100_000) + "@example.com";
        var hugePassword = new string('p', 100_000);

        // Act
        var email = await portal.SignUpAsync(hugeEmail, "correct horse battery", Origin, Address, None);
        var password = await portal.SignUpAsync("huge@example.com", hugePassword, Origin, Address, None);

        // Assert
        Assert.Equal((false, "Email address must be at most 254 characters."), (email.Ok, email.Message));
        Assert.Equal((false, "Password must be at most 256 characters."), (password.Ok, password.Message));
        Assert.Empty(await _store.ListUsersAsync(None));
    }

    [Fact]
    public async Task LoginAsync_UnknownEmailAndWrongPassword_SameMessage()
    {
        // Arrange
        var portal = await PortalAsync(requireVerification: false);
        await portal.SignUpAsync("known@example.com", "correct horse battery", Origin, Address, None);

        // Act
        var unknown = await portal.LoginAsync("unknown@example.com", "correct horse battery", Address, None);
        var wrong = await portal.LoginAsync("known@example.com", "wrong password here", Address, None);

        // Assert
        Assert.Equal(PortalResult.Refused(PortalAccountService.LoginFailed), unknown);
        Assert.Equal(PortalResult.Refused(PortalAccountService.LoginFailed), wrong);
    }

    [Fact]
    public async Task LoginAsync_SixthWrongPassword_RefusedEvenWithRightPasswordUntilWindowEnds()
    {
        // Arrange
        var portal = await PortalAsync(requireVerification: false);
        await portal.SignUpAsync("limited@example.com", "correct horse battery", Origin, Address, None);
        for (var i = 0; i < 5; i++)
        {
            await portal.LoginAsync("limited@example.com", "guess number " + i, Address, None);
        }

        // Act
        var limited = await portal.LoginAsync("limited@example.com", "correct horse battery", Address, None);
        _clock.Advance(TimeSpan.FromMinutes(15));
        var later = await portal.LoginAsync("limited@example.com", "correct horse battery", Address, None);

        // Assert
        Assert.Equal((false, "Too many login attempts. Try again in 15 minute(s)."), (limited.Ok, limited.Message));
        Assert.True(later.Ok, later.Message);
    }

    [Fact]
    public async Task LoginAsync_RightPasswordInALoop_TwentyFirstWithinTheWindowRefusedUntilItEnds()
    {
        // Arrange: the owner of an account (anyone can sign up) logging in over and over, a password hash each time; a
        // success clears the account's failures and gives the address its attempt back, so those never stopped it
        var portal = await PortalAsync(requireVerification: false);
        await portal.SignUpAsync("loop@example.com", "correct horse battery", Origin, Address, None);
        for (var i = 0; i < 20; i++)
        {
            Assert.True((await portal.LoginAsync("loop@example.com", "correct horse battery", Address, None)).Ok);
        }

        // Act
        var limited = await portal.LoginAsync("loop@example.com", "correct horse battery", Address, None);
        _clock.Advance(TimeSpan.FromMinutes(15));
        var later = await portal.LoginAsync("loop@example.com", "correct horse battery", Address, None);

        // Assert
        Assert.Equal((false, true, "Too many login attempts. Try again in 15 minute(s)."), (limited.Ok, limited.Throttled, limited.Message));
        Assert.True(later.Ok, later.Message);
    }

    [Fact]
    public async Task SignUpAsync_EleventhFromOneAddressWithinAnHour_RefusedBeforeAnythingIsHashedStoredOrMailed()
    {
        // Arrange: 20 sign-ups sent at once from one address, each a new email
        var portal = await PortalAsync(requireVerification: false);

        // Act
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            portal.SignUpAsync($"burst{i}@example.com", "correct horse battery", Origin, Address, None)));
        var otherAddress = await portal.SignUpAsync("elsewhere@example.com", "correct horse battery", Origin, "203.0.113.8", None);
        _clock.Advance(LoginLimiter.SignUpWindow);
        var anHourLater = await portal.SignUpAsync("later@example.com", "correct horse battery", Origin, Address, None);

        // Assert: exactly 10 went through; the refused ones stored no user
        Assert.Equal(10, results.Count(r => r.Ok));
        Assert.All(results.Where(r => !r.Ok), r => Assert.Equal("Too many sign-ups from your network. Try again in 60 minute(s).", r.Message));
        var stored = 0;
        for (var i = 0; i < 20; i++)
        {
            stored += await _store.FindUserAsync($"burst{i}@example.com", None) is null ? 0 : 1;
        }

        Assert.Equal(10, stored);
        Assert.True(otherAddress.Ok, otherAddress.Message);
        Assert.True(anHourLater.Ok, anHourLater.Message);
    }

    [Fact]
    public async Task LoginAsync_SuspendedUser_Refused()
    {
        // Arrange
        var portal = await PortalAsync(requireVerification: false);
        await portal.SignUpAsync("suspended@example.com", "correct horse battery", Origin, Address, None);
        var user = (await _store.FindUserAsync("suspended@example.com", None))!;
        await _store.UpdateUserAsync(user with { Status = UserStatus.Suspended, UpdatedAt = user.UpdatedAt.AddSeconds(1) }, user.UpdatedAt, None);

        // Act
        var result = await portal.LoginAsync("suspended@example.com", "correct horse battery", Address, None);

        // Assert
        Assert.Equal((false, "This account is suspended. Please contact the operator."), (result.Ok, result.Message));
        Assert.False(result.Unconfirmed); // no new confirmation link offered for it
    }

    [Fact]
    public async Task ResetAsync_LinkFromEmail_NewPasswordWorksOldDoesNotLinkSingleUse()
    {
        // Arrange
        var portal = await PortalAsync(requireVerification: false);
        await portal.SignUpAsync("reset@example.com", "the old password", Origin, Address, None);
        var asked = await portal.RequestResetAsync("reset@example.com", Origin, Address, None);
        var email = await _smtp.NextToAsync("reset@example.com");
        var token = TokenOf(TestSmtpServer.LinkIn(email, "/portal/reset"));

        // Act
        var tooShort = await portal.ResetAsync(token, "short", None);
        var reset = await portal.ResetAsync(token, "the new password", None);
        var reused = await portal.ResetAsync(token, "a third password", None);
        var withOld = await portal.LoginAsync("reset@example.com", "the old password", Address, None);
        var withNew = await portal.LoginAsync("reset@example.com", "the new password", Address, None);

        // Assert
        Assert.Equal("If reset@example.com has an account, we sent it a link to reset the password. It works for one hour.", asked.Message);
        Assert.Equal("Portal Test: reset your password", email.Subject);
        Assert.Equal((false, "Password must be at least 10 characters."), (tooShort.Ok, tooShort.Message));
        Assert.True(reset.Ok);
        Assert.Equal((false, PortalAccountService.LinkUnusable), (reused.Ok, reused.Message));
        Assert.False(withOld.Ok);
        Assert.True(withNew.Ok, withNew.Message);
    }

    [Fact]
    public async Task RequestResetAsync_AddressStoredBeforeTheSpellingRules_AnsweredAsAnyOtherNotRefused()
    {
        // Arrange: an account whose address (a fullwidth "ａ", U+FF41) was stored before new addresses had to be in NFKC
        var portal = await PortalAsync(requireVerification: false);
        await portal.SignUpAsync("a@example.com", "the old password", Origin, Address, None);
        var user = (await _store.FindUserAsync("a@example.com", None))!;
        await _store.UpdateUserAsync(user with { Email = "\uff41@example.com", UpdatedAt = user.UpdatedAt.AddSeconds(1) }, user.UpdatedAt, None);

        // Act
        var asked = await portal.RequestResetAsync("\uff41@example.com", Origin, Address, None);
        var resend = await portal.ResendVerificationByEmailAsync("\uff41@example.com", Origin, Address, None);

        // Assert
        Assert.Equal((true, "If \uff41@example.com has an account, we sent it a link to reset the password. It works for one hour."), (asked.Ok, asked.Message));
        Assert.DoesNotContain("NFKC", resend.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("reset")]
    [InlineData("change")]
    public async Task ResetAsync_OlderLinkAfterThePasswordWasResetOrChanged_Refused(string how)
    {
        // Arrange: two reset links out (say the first one leaked).
        var portal = await PortalAsync(requireVerification: false);
        await portal.SignUpAsync("twice@example.com", "the old password", Origin, Address, None);
        var user = (await _store.FindUserAsync("twice@example.com", None))!;
        await portal.RequestResetAsync("twice@example.com", Origin, Address, None);
        var older = TokenOf(TestSmtpServer.LinkIn(await _smtp.NextToAsync("twice@example.com"), "/portal/reset"));
        await portal.RequestResetAsync("twice@example.com", Origin, Address, None);
        var newer = TokenOf(TestSmtpServer.LinkIn(await _smtp.NextToAsync("twice@example.com"), "/portal/reset"));

        // Act: the owner sets a new password — through the newer link, or on the account page.
        var done = how == "reset"
            ? await portal.ResetAsync(newer, "the owner's new password", None)
            : await portal.ChangePasswordAsync(user.Id, "the old password", "the owner's new password", None);
        var withOlder = await portal.ResetAsync(older, "the attacker's password", None);

        // Assert
        Assert.True(done.Ok, done.Message);
        Assert.Equal((false, PortalAccountService.LinkUnusable), (withOlder.Ok, withOlder.Message));
        Assert.True((await portal.LoginAsync("twice@example.com", "the owner's new password", Address, None)).Ok);
    }

    [Fact]
    public async Task ResetAsync_AfterOneHour_Refused()
    {
        // Arrange
        var portal = await PortalAsync(requireVerification: false);
        await portal.SignUpAsync("hour@example.com", "the old password", Origin, Address, None);
        await portal.RequestResetAsync("hour@example.com", Origin, Address, None);
        var token = TokenOf(TestSmtpServer.LinkIn(await _smtp.NextToAsync("hour@example.com"), "/portal/reset"));
        _clock.Advance(TimeSpan.FromHours(1));

        // Act
        var result = await portal.ResetAsync(token, "the new password", None);

        // Assert
        Assert.Equal((false, PortalAccountService.LinkUnusable), (result.Ok, result.Message));
        Assert.True((await portal.LoginAsync("hour@example.com", "the old password", Address, None)).Ok);
    }

    [Fact]
    public async Task LinkRequests_TwentyFirstFromOneAddressWithinAnHour_RefusedBeforeAnyLookUpAndNothingMailed()
    {
        // Arrange: 25 registered accounts; one client asks a reset link for each, and a confirmation link for one more
        var portal = await PortalAsync(requireVerification: false);
        for (var i = 0; i < 25; i++)
        {
            Assert.True((await portal.SignUpAsync($"list{i}@example.com", "correct horse battery", Origin, $"198.51.100.{i}", None)).Ok);
        }

        // Act
        var answers = new List<PortalResult>();
        for (var i = 0; i < 25; i++)
        {
            answers.Add(await portal.RequestResetAsync($"list{i}@example.com", Origin, Address, None));
        }

        var resend = await portal.ResendVerificationByEmailAsync("list0@example.com", Origin, Address, None);
        var otherClient = await portal.RequestResetAsync("list24@example.com", Origin, "203.0.113.8", None);
        _clock.Advance(LoginLimiter.MailRequestWindow);
        var anHourLater = await portal.RequestResetAsync("list23@example.com", Origin, Address, None);
        await _smtp.NextToAsync("list23@example.com"); // links are made after the answer, in order: every request before it is done

        // Assert: 20 answered as usual and mailed; the rest refused alike, whoever they named; another client unaffected
        Assert.Equal(20, answers.Count(a => a.Ok));
        Assert.All(answers.Skip(20).Append(resend), a => Assert.Equal(
            (false, true, "Too many link requests from your network. Try again in 60 minute(s)."), (a.Ok, a.Throttled, a.Message)));
        Assert.True(otherClient.Ok, otherClient.Message);
        Assert.True(anHourLater.Ok, anHourLater.Message);
        for (var i = 20; i < 23; i++)
        {
            Assert.Equal(0, await ResetTokenRowsAsync($"list{i}@example.com"));
        }

        Assert.Equal(1, await ResetTokenRowsAsync("list19@example.com"));
    }

    [Fact]
    public async Task RequestResetAsync_SixTimesInAnHour_FiveEmailsSameAnswerThenOneMoreAfterTheHour()
    {
        // Arrange
        var portal = await PortalAsync(requireVerification: false);
        await portal.SignUpAsync("flooded@example.com", "correct horse battery", Origin, Address, None);
        await portal.SignUpAsync("marker@example.com", "correct horse battery", Origin, Address, None);

        // Act: six requests for one address, then one for another (mail leaves in order: once the marker's has
        // arrived, a sixth to the first address would have arrived before it)
        var answers = new List<string>();
        for (var i = 0; i < PortalMailQueue.PerRecipient + 1; i++)
        {
            answers.Add((await portal.RequestResetAsync("flooded@example.com", Origin, Address, None)).Message);
        }

        await portal.RequestResetAsync("marker@example.com", Origin, Address, None);
        for (var i = 0; i < PortalMailQueue.PerRecipient; i++)
        {
            await _smtp.NextToAsync("flooded@example.com");
        }

        await _smtp.NextToAsync("marker@example.com");
        var withinTheHour = _smtp.Messages.Count(m => m.To.Mailboxes.Any(a => a.Address == "flooded@example.com"));
        var tokensWithinTheHour = await ResetTokenRowsAsync("flooded@example.com");
        _clock.Advance(PortalMailQueue.RecipientWindow);
        await portal.RequestResetAsync("FLOODED@example.com ", Origin, Address, None);
        await _smtp.NextToAsync("flooded@example.com");

        // Assert: the same answer every time (nothing tells the requester that mail stopped)
        Assert.Single(answers.Distinct());
        Assert.Equal(PortalMailQueue.PerRecipient, withinTheHour);
        Assert.Equal(PortalMailQueue.PerRecipient, tokensWithinTheHour); // no link issued that was not mailed
        Assert.Equal(PortalMailQueue.PerRecipient + 1, _smtp.Messages.Count(m => m.To.Mailboxes.Any(a => a.Address == "flooded@example.com")));
    }

    [Fact]
    public async Task RequestResetAsync_UnknownEmail_SameMessageAndNoEmail()
    {
        // Arrange
        var portal = await PortalAsync(requireVerification: false);
        await portal.SignUpAsync("someone@example.com", "correct horse battery", Origin, Address, None);

        // Act
        var unknown = await portal.RequestResetAsync("nobody@example.com", Origin, Address, None);
        var known = await portal.RequestResetAsync("someone@example.com", Origin, Address, None);
        var first = await _smtp.NextToAsync("someone@example.com");

        // Assert
        Assert.Equal(unknown.Message.Replace("nobody@", "someone@"), known.Message);
        Assert.True(unknown.Ok && known.Ok);
        Assert.Equal("Portal Test: reset your password", first.Subject);
        Assert.DoesNotContain(_smtp.Messages, m => m.To.Mailboxes.Any(a => a.Address == "nobody@example.com"));
    }

    [Fact]
    public async Task SignUpAsync_NoSmtpVerificationRequired_RefusedNamingNoFieldNothingCreated()
    {
        // Arrange
        var portal = await PortalAsync(smtp: false);

        // Act
        var result = await portal.SignUpAsync("nosmtp@example.com", "correct horse battery", Origin, Address, None);

        // Assert: about the portal's settings, not about anything the visitor typed
        Assert.Equal((false, "Sign-up is not available: this portal cannot send email yet. Please contact the operator.", ""), (result.Ok, result.Message, result.Field));
        Assert.Empty(await _store.ListUsersAsync(None));
    }

    [Fact]
    public async Task SignUpAsync_NoSmtpVerificationOff_ActiveUserCanLogIn()
    {
        // Arrange
        var portal = await PortalAsync(smtp: false, requireVerification: false);

        // Act
        var signUp = await portal.SignUpAsync("open@example.com", "correct horse battery", Origin, Address, None);
        var login = await portal.LoginAsync("open@example.com", "correct horse battery", Address, None);

        // Assert
        Assert.True(signUp.Ok);
        Assert.True(login.Ok, login.Message);
        Assert.Equal(UserStatus.Active, login.User!.Status);
    }

    [Theory]
    [InlineData(false, "https://developers.example.com", Origin, "no SMTP server is set (APIGATE_SMTP_URL, smtp.url)")]
    [InlineData(true, "", "https://portal.example", "APIGATE_PORTAL_BASE_URL (portal.base_url) is not set and the request was not made to a loopback address")]
    public async Task SignUpAsync_RegisteredAddressAndNoWayToMailItsOwner_SameAnswerAndTheSkipLoggedWithoutTheAddress(
        bool smtp, string baseUrl, string origin, string reason)
    {
        // Arrange: verification off, so sign-up works without SMTP or without a base URL
        var logger = new RecordingLogger<PortalAccountService>();
        var portal = await PortalAsync(smtp: smtp, requireVerification: false, baseUrl: baseUrl, logger: logger);
        var first = await portal.SignUpAsync("owner@example.com", "correct horse battery", origin, Address, None);

        // Act
        var second = await portal.SignUpAsync("owner@example.com", "another password!", origin, Address, None);

        // Assert: the visitor learns nothing; the operator sees why the owner got no note, and not whose address it was
        Assert.Equal(first, second);
        var skipped = Assert.Single(logger.Entries, e => e.EventId == 8013);
        Assert.Equal(LogLevel.Information, skipped.Level);
        Assert.Equal("Portal sign-up for an address that already has an account answered as a new one, but its owner could not be told of the attempt: " + reason, skipped.Message);
        Assert.DoesNotContain(logger.Messages, m => m.Contains("owner@", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task ChangePasswordAsync_WrongCurrent_RefusedRightCurrent_Changed()
    {
        // Arrange
        var portal = await PortalAsync(requireVerification: false);
        await portal.SignUpAsync("change@example.com", "the old password", Origin, Address, None);
        var user = (await _store.FindUserAsync("change@example.com", None))!;

        // Act
        var wrong = await portal.ChangePasswordAsync(user.Id, "not the password", "the new password", None);
        var changed = await portal.ChangePasswordAsync(user.Id, "the old password", "the new password", None);

        // Assert
        Assert.Equal((false, "The current password is incorrect."), (wrong.Ok, wrong.Message));
        Assert.True(changed.Ok);
        Assert.True((await portal.LoginAsync("change@example.com", "the new password", Address, None)).Ok);
    }

    [Fact]
    public async Task ChangePasswordAsync_CurrentPasswordGuessedRepeatedly_LimitedLikeALogin()
    {
        // Arrange: a signed-in session in the wrong hands, guessing the password behind it.
        var portal = await PortalAsync(requireVerification: false);
        await portal.SignUpAsync("guess@example.com", "the real password", Origin, Address, None);
        var user = (await _store.FindUserAsync("guess@example.com", None))!;

        // Act
        var guesses = new List<PortalResult>();
        for (var i = 0; i < 6; i++)
        {
            guesses.Add(await portal.ChangePasswordAsync(user.Id, "guess number " + i, "the attacker's password", None));
        }

        var right = await portal.ChangePasswordAsync(user.Id, "the real password", "the attacker's password", None);

        // Assert: five wrong answers, then refused before the password is even checked — the right one included.
        Assert.All(guesses.Take(5), g => Assert.Equal((false, "The current password is incorrect."), (g.Ok, g.Message)));
        Assert.StartsWith("Too many attempts.", guesses[5].Message, StringComparison.Ordinal);
        Assert.StartsWith("Too many attempts.", right.Message, StringComparison.Ordinal);
        Assert.True((await portal.LoginAsync("guess@example.com", "the real password", "203.0.113.9", None)).Ok is false);
    }

    [Theory]
    [InlineData("bob@XN--BCHER-KVA.example")]
    [InlineData("bob@b\u00fccher.example.")]
    public async Task ChangePasswordAsync_AddressStoredBeforeTheSpellingRules_SharesTheLoginCountOfItsAccount(string stored)
    {
        // Arrange: an account whose address was stored in a spelling sign-up no longer keeps; five wrong passwords at
        // the login, which counts them under the spelling kept (bob@bücher.example)
        var portal = await PortalAsync(requireVerification: false);
        await portal.SignUpAsync("bob@b\u00fccher.example", "the real password", Origin, Address, None);
        var user = (await _store.FindUserAsync("bob@b\u00fccher.example", None))!;
        await _store.UpdateUserAsync(user with { Email = stored, UpdatedAt = user.UpdatedAt.AddSeconds(1) }, user.UpdatedAt, None);
        var hash = (await _store.FindPortalAccountAsync(user.Id, None))!.PasswordHash;
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(PortalAccountService.LoginFailed, (await portal.LoginAsync(stored, "guess number " + i, "203.0.113.9", None)).Message);
        }

        // Act: a signed-in session in the wrong hands goes on guessing through the password change
        var changed = await portal.ChangePasswordAsync(user.Id, "the real password", "the attacker's password", None);

        // Assert: refused before the password is checked, as the sixth login is; the password stays
        Assert.False(changed.Ok);
        Assert.StartsWith("Too many attempts.", changed.Message, StringComparison.Ordinal);
        Assert.Equal(hash, (await _store.FindPortalAccountAsync(user.Id, None))!.PasswordHash);
    }

    /// <summary>Reset tokens stored for the user with <paramref name="email"/>, used or not.</summary>
    private async Task<long> ResetTokenRowsAsync(string email)
    {
        var user = (await _store.FindUserAsync(email, None))!;
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={((ApiGate.Storage.Sqlite.SqliteGatewayStore)_store).DataSource}");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM portal_tokens WHERE user_id = $user AND purpose = 'reset'";
        command.Parameters.AddWithValue("$user", user.Id);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static string TokenOf(string link) => link[(link.IndexOf("token=", StringComparison.Ordinal) + "token=".Length)..];

    [Fact]
    public async Task RequestResetAsync_NoBaseUrlAndAHostThatIsNotLoopback_NoLinkMailedNoTokenIssued()
    {
        // Arrange: no APIGATE_PORTAL_BASE_URL; an active customer
        var portal = await PortalAsync(requireVerification: false, baseUrl: "");
        Assert.True((await portal.SignUpAsync("victim@example.com", "correct horse battery", Origin, Address, None)).Ok);

        // Act: a reset asked for through a request naming another host (the Host header is the client's), then one
        // made to the gateway's loopback address
        var poisoned = await portal.RequestResetAsync("victim@example.com", "http://attacker.example", Address, None);
        var local = await portal.RequestResetAsync("victim@example.com", Origin, Address, None);
        var email = await _smtp.NextToAsync("victim@example.com");

        // Assert: the first is refused plainly (for every address alike), and the first mail the victim gets is the
        // loopback one — none carried the other host
        Assert.Equal((false, PortalAccountService.CannotMakeLinks), (poisoned.Ok, poisoned.Message));
        Assert.True(local.Ok);
        Assert.StartsWith(Origin + "/portal/reset?token=", TestSmtpServer.LinkIn(email, "/portal/reset"));
        Assert.DoesNotContain(_smtp.Messages, m => (m.TextBody ?? "").Contains("attacker.example", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SignUpAsync_NoBaseUrlAndAHostThatIsNotLoopback_RefusedNothingCreatedSettingNamedInTheLogOnce()
    {
        // Arrange: no APIGATE_PORTAL_BASE_URL, verification required, a request to a public host name
        var logger = new RecordingLogger<PortalAccountService>();
        var portal = await PortalAsync(baseUrl: "", logger: logger);

        // Act
        var first = await portal.SignUpAsync("first@example.com", "correct horse battery", "https://portal.example", Address, None);
        var second = await portal.SignUpAsync("second@example.com", "correct horse battery", "https://portal.example", Address, None);

        // Assert: refused (not "we sent a link" with no link sent), no pending user left behind, one warning
        Assert.Equal((false, PortalAccountService.CannotMakeLinks, ""), (first.Ok, first.Message, first.Field));
        Assert.Equal((false, PortalAccountService.CannotMakeLinks), (second.Ok, second.Message));
        Assert.Empty(await _store.ListUsersAsync(None));
        var warning = Assert.Single(logger.Entries, e => e.EventId == 8007);
        Assert.Contains("APIGATE_PORTAL_BASE_URL", warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RequestResetAsync_NoBaseUrlAndAHostThatIsNotLoopback_RefusedSameForUnknownAddress()
    {
        // Arrange
        var portal = await PortalAsync(requireVerification: false, baseUrl: "");
        Assert.True((await portal.SignUpAsync("known@example.com", "correct horse battery", Origin, Address, None)).Ok);

        // Act
        var known = await portal.RequestResetAsync("known@example.com", "https://portal.example", Address, None);
        var unknown = await portal.RequestResetAsync("nobody@example.com", "https://portal.example", Address, None);

        // Assert: the refusal depends on the settings alone, so it tells nothing about accounts
        Assert.Equal((false, PortalAccountService.CannotMakeLinks), (known.Ok, known.Message));
        Assert.Equal(known, unknown);
        Assert.Equal(0, await ResetTokenRowsAsync("known@example.com"));
    }

    [Theory]
    [InlineData("http://localhost.attacker.example")]
    [InlineData("http://127.0.0.1.attacker.example")]
    [InlineData("http://attacker.example:80@127.0.0.1")]
    [InlineData("http://[::1].attacker.example")]
    [InlineData("http://xn--attacker-example")]
    public async Task RequestResetAsync_NoBaseUrlAndAHostThatOnlyLooksLocal_NoMailedLinkLeavesTheMachine(string origin)
    {
        // Arrange
        var portal = await PortalAsync(requireVerification: false, baseUrl: "");
        Assert.True((await portal.SignUpAsync("victim@example.com", "correct horse battery", Origin, Address, None)).Ok);

        // Act: the hostile reset first, then a loopback one as a marker
        await portal.RequestResetAsync("victim@example.com", origin, Address, None);
        await portal.RequestResetAsync("victim@example.com", Origin, Address, None);
        var first = await _smtp.NextToAsync("victim@example.com");

        // Assert: the first link the victim gets points at a loopback address (the hostile request either sent none or,
        // where the address really is loopback, one rebuilt from the parsed host alone) and names no other host
        var link = new Uri(TestSmtpServer.LinkIn(first, "/portal/reset"));
        Assert.True(link.IsLoopback, link.ToString());
        Assert.Empty(link.UserInfo);
        Assert.DoesNotContain(_smtp.Messages, m => (m.TextBody ?? "").Contains("attacker", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("jürgen@example.com")]
    [InlineData("josé.garcía@example.es")]
    [InlineData("first.last+tag@sub.example.co.uk")]
    public async Task SignUpAsync_OrdinaryAndNonAsciiAddresses_StillAccepted(string email)
    {
        var portal = await PortalAsync();

        var result = await portal.SignUpAsync(email, "correct horse battery", Origin, Address, None);

        Assert.True(result.Ok, result.Message);
        Assert.NotNull(await _store.FindUserAsync(email, None));
    }

    [Theory]
    [InlineData("alice@example.test\u200b")]
    [InlineData("zws@exa\u200bmple.test")]
    [InlineData("a\u00adb@example.com")]
    [InlineData("\ufeffbob@example.com")]
    [InlineData("carol@example.com\u2060")]
    [InlineData("dave\U000E0020@example.com")] // TAG SPACE, outside the BMP
    public async Task SignUpAsync_AddressWithAnInvisibleCharacter_RefusedAndNoMailSent(string email)
    {
        // Arrange: an account whose address the invisible one would pass for.
        var portal = await PortalAsync();

        // Act
        var result = await portal.SignUpAsync(email, "correct horse battery", Origin, Address, None);

        // Assert
        Assert.False(result.Ok);
        Assert.Equal($"'{email}' is not an email address.", result.Message);
        Assert.Empty(await _store.ListUsersAsync(None));
    }

    [Theory]
    [InlineData("rene\u0301@example.com", 5)]
    [InlineData("zoe@exa\u0301mple.com", 8)]
    public async Task SignUpAsync_AddressWithACombiningAccent_RefusedSayingWhichAndNoUser(string email, int position)
    {
        // Arrange: the decomposed spelling of an address that has a precomposed one
        var portal = await PortalAsync();

        // Act
        var result = await portal.SignUpAsync(email, "correct horse battery", Origin, Address, None);

        // Assert
        Assert.Equal((false, $"Email address contains a combining mark (U+0301 at position {position}): type each accented letter as one character, so that the address has a single spelling."),
            (result.Ok, result.Message));
        Assert.Empty(await _store.ListUsersAsync(None));
    }

    [Fact]
    public async Task SignUpAsync_AddressWithADottedCapitalI_RefusedNamingItsPositionAndNoSecondUserOfTheLetters()
    {
        // Arrange: an account for alice@example.com; the same letters typed with U+0130 for the i
        var portal = await PortalAsync(requireVerification: false, smtp: false);
        Assert.True((await portal.SignUpAsync("alice@example.com", "correct horse battery", Origin, Address, None)).Ok);

        // Act
        var result = await portal.SignUpAsync("AL\u0130CE@example.com", "correct horse battery", Origin, Address, None);

        // Assert
        Assert.Equal((false, "Email address contains a dotted capital I (U+0130 at position 3), which has no lower-case form that every store agrees on, so the address would not have a single spelling.", PortalAccountService.EmailField),
            (result.Ok, result.Message, result.Field));
        Assert.Equal("alice@example.com", Assert.Single(await _store.ListUsersAsync(None)).Email);
    }

    [Fact]
    public async Task SignUpAsync_AddressWithAVariationSelectorOfTheSupplement_RefusedNamingItsCodePointAndNoUser()
    {
        // Arrange: U+E0100, a combining mark that shows nothing, written as a surrogate pair
        var portal = await PortalAsync();

        // Act
        var result = await portal.SignUpAsync("zoe\U000E0100@example.com", "correct horse battery", Origin, Address, None);

        // Assert
        Assert.Equal((false, "Email address contains a combining mark (U+E0100 at position 4): type each accented letter as one character, so that the address has a single spelling."),
            (result.Ok, result.Message));
        Assert.Empty(await _store.ListUsersAsync(None));
    }

    [Fact]
    public async Task SignUpAsync_AddressNotInNfkc_RefusedNamingItsPlainFormAndNoUser()
    {
        // Arrange: a fullwidth "ａ" (U+FF41), which reads as the plain "a"
        var portal = await PortalAsync();

        // Act
        var result = await portal.SignUpAsync("\uff41@example.com", "correct horse battery", Origin, Address, None);

        // Assert
        Assert.Equal((false, "Email address is not in Unicode normalization form NFKC (it has a look-alike character such as a fullwidth letter): write it as 'a@example.com'."),
            (result.Ok, result.Message));
        Assert.Empty(await _store.ListUsersAsync(None));
    }

    [Theory]
    [InlineData("ann@mail\u3002example.com", 9)]
    [InlineData("ann@mail.example.com\u3002", 21)]
    public async Task SignUpAsync_AddressWithAnIdeographicFullStop_RefusedAndNoSecondUserOfTheMailbox(string email, int position)
    {
        // Arrange: U+3002 is in NFKC, but mail software reads it as the '.' between labels: the same mailbox as ann@mail.example.com
        var portal = await PortalAsync();
        Assert.True((await portal.SignUpAsync("ann@mail.example.com", "correct horse battery", Origin, Address, None)).Ok);

        // Act
        var result = await portal.SignUpAsync(email, "correct horse battery", Origin, Address, None);

        // Assert
        Assert.Equal((false, $"Email address contains an ideographic full stop (U+3002 at position {position}), which mail software reads as '.': write the address with '.'.",
            PortalAccountService.EmailField), (result.Ok, result.Message, result.Field));
        Assert.Equal(["ann@mail.example.com"], (await _store.ListUsersAsync(None)).Select(u => u.Email));
    }

    [Theory]
    [InlineData("bob@xn--bcher-kva.example")]
    [InlineData("bob@XN--BCHER-KVA.example")]
    public async Task SignUpAsync_DomainInPunycode_RefusedNamingItsUnicodeFormAndNoSecondUserOfTheMailbox(string email)
    {
        // Arrange: the same mailbox in its Unicode spelling, which the portal accepts
        var portal = await PortalAsync();
        Assert.True((await portal.SignUpAsync("bob@b\u00fccher.example", "correct horse battery", Origin, Address, None)).Ok);

        // Act
        var result = await portal.SignUpAsync(email, "correct horse battery", Origin, Address, None);

        // Assert
        Assert.Equal((false, $"Email address has its domain in punycode ('{email[4..]}'): write it as 'bob@b\u00fccher.example', the one spelling an address is kept in.",
            PortalAccountService.EmailField), (result.Ok, result.Message, result.Field));
        Assert.Equal(["bob@b\u00fccher.example"], (await _store.ListUsersAsync(None)).Select(u => u.Email));
    }

    [Theory]
    [InlineData("bob@XN--BCHER-KVA.example")]
    [InlineData("bob@xn--bcher-kva.example")]
    [InlineData("bob@b\u00fccher.example.")]
    [InlineData("bob@b\u00fccher\u3002example")]
    [InlineData("\uff42ob@b\u00fccher.example")]
    public async Task LinkRequests_AnotherSpellingOfARegisteredAddress_AnsweredAsAnyAddressAndTheLinkIssuedToItsAccount(string spelling)
    {
        // Arrange: the account under the one spelling sign-up keeps; the same spelling shape for an unknown address
        var portal = await PortalAsync();
        Assert.True((await portal.SignUpAsync("bob@b\u00fccher.example", "correct horse battery", Origin, Address, None)).Ok);
        var unknown = spelling.Replace("bob", "ann").Replace("\uff42ob", "\uff41nn");

        // Act
        var reset = await portal.RequestResetAsync(spelling, Origin, Address, None);
        var resetUnknown = await portal.RequestResetAsync(unknown, Origin, Address, None);
        var resend = await portal.ResendVerificationByEmailAsync(spelling, Origin, Address, None);
        var resendUnknown = await portal.ResendVerificationByEmailAsync(unknown, Origin, Address, None);

        // Assert: the answers of any well-formed address, and the account's reset link issued
        Assert.Equal((true, $"If {spelling} has an account, we sent it a link to reset the password. It works for one hour.", ""),
            (reset.Ok, reset.Message, reset.Field));
        Assert.Equal((true, $"If {unknown} has an account, we sent it a link to reset the password. It works for one hour.", ""),
            (resetUnknown.Ok, resetUnknown.Message, resetUnknown.Field));
        Assert.Equal((true, $"If {spelling} has an unconfirmed account, we sent it a new link."), (resend.Ok, resend.Message));
        Assert.Equal((true, $"If {unknown} has an unconfirmed account, we sent it a new link."), (resendUnknown.Ok, resendUnknown.Message));
        // (the link is made after the answer)
        await Poll.UntilAsync(async () => await ResetTokenRowsAsync("bob@b\u00fccher.example") == 1, () => "no reset link issued to the account");
    }

    [Theory]
    [InlineData("bob@XN--BCHER-KVA.example")]
    [InlineData("bob@b\u00fccher.example.")]
    public async Task LoginAsync_AnotherSpellingOfARegisteredAddress_LogsInItsAccountWrongPasswordRefusedAsUsual(string spelling)
    {
        // Arrange
        var portal = await PortalAsync(requireVerification: false);
        Assert.True((await portal.SignUpAsync("bob@b\u00fccher.example", "correct horse battery", Origin, Address, None)).Ok);
        var user = (await _store.FindUserAsync("bob@b\u00fccher.example", None))!;

        // Act
        var right = await portal.LoginAsync(spelling, "correct horse battery", Address, None);
        var wrong = await portal.LoginAsync(spelling, "not the password", Address, None);
        var unknown = await portal.LoginAsync(spelling.Replace("bob", "ann"), "correct horse battery", Address, None);

        // Assert
        Assert.Equal((true, "Logged in.", user.Id), (right.Ok, right.Message, right.User?.Id));
        Assert.Equal((false, PortalAccountService.LoginFailed), (wrong.Ok, wrong.Message));
        Assert.Equal((false, PortalAccountService.LoginFailed), (unknown.Ok, unknown.Message));
    }

    [Fact]
    public async Task LoginAsync_WrongPasswordsUnderSeveralSpellingsOfOneAddress_CountedAgainstOneAccount()
    {
        // Arrange: five wrong passwords, each under another spelling of one mailbox
        var portal = await PortalAsync(requireVerification: false);
        Assert.True((await portal.SignUpAsync("bob@b\u00fccher.example", "correct horse battery", Origin, Address, None)).Ok);
        string[] spellings = ["bob@b\u00fccher.example", "bob@XN--BCHER-KVA.example", "bob@xn--bcher-kva.example", "bob@b\u00fccher.example.", "bob@b\u00fccher\u3002example"];
        foreach (var spelling in spellings)
        {
            Assert.Equal(PortalAccountService.LoginFailed, (await portal.LoginAsync(spelling, "not the password", "203.0.113.9", None)).Message);
        }

        // Act
        var sixth = await portal.LoginAsync("bob@Xn--Bcher-Kva.example", "correct horse battery", "203.0.113.10", None);

        // Assert
        Assert.False(sixth.Ok);
        Assert.StartsWith("Too many login attempts.", sixth.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignUpAsync_DomainLabelThatIsNotPunycode_RefusedSayingSo()
    {
        var portal = await PortalAsync();

        var result = await portal.SignUpAsync("bob@xn--zz-.example", "correct horse battery", Origin, Address, None);

        Assert.Equal((false, "Email address has a domain label starting 'xn--' that is not valid punycode ('xn--zz-.example')."), (result.Ok, result.Message));
        Assert.Empty(await _store.ListUsersAsync(None));
    }

    [Fact]
    public async Task SignUpAsync_DomainEndingInADot_RefusedNamingTheFormWithoutIt()
    {
        var portal = await PortalAsync();

        var result = await portal.SignUpAsync("ann@example.com.", "correct horse battery", Origin, Address, None);

        Assert.Equal((false, "Email address ends with '.', which names the same domain as without it: write it as 'ann@example.com'.", PortalAccountService.EmailField),
            (result.Ok, result.Message, result.Field));
        Assert.Empty(await _store.ListUsersAsync(None));
    }

    [Fact]
    public async Task SignUpAsync_AddressWithAHalfwidthIdeographicFullStop_RefusedNamingThePlainFormWithADot()
    {
        // Arrange: U+FF61, which NFKC makes U+3002 (itself refused): the form to write has a '.'
        var portal = await PortalAsync();

        // Act
        var result = await portal.SignUpAsync("ann@mail\uff61example.com", "correct horse battery", Origin, Address, None);

        // Assert
        Assert.Equal((false, "Email address is not in Unicode normalization form NFKC (it has a look-alike character such as a fullwidth letter): write it as 'ann@mail.example.com'."),
            (result.Ok, result.Message));
        Assert.Empty(await _store.ListUsersAsync(None));
    }

    [Theory]
    [InlineData("a:b@example.com")]
    [InlineData("x(1)@example.com")]
    [InlineData("a[b@example.com")]
    [InlineData("a\\b@example.com")]
    public async Task SignUpAsync_AddressTheMailLibraryReadsDifferently_Refused(string email)
    {
        var portal = await PortalAsync();

        var result = await portal.SignUpAsync(email, "correct horse battery", Origin, Address, None);

        Assert.False(result.Ok);
        Assert.Equal($"'{email}' is not an email address.", result.Message);
        Assert.Null(await _store.FindUserAsync(email, None));
    }

    [Theory]
    [InlineData("a/b@example.com", '/')]
    [InlineData("a%b@example.com", '%')]
    [InlineData("a?b@example.com", '?')]
    [InlineData("a#b@example.com", '#')]
    public async Task SignUpAsync_AddressWithACharacterThatCannotNameAUserInAUrl_RefusedSayingWhich(string email, char character)
    {
        var portal = await PortalAsync();

        var result = await portal.SignUpAsync(email, "correct horse battery", Origin, Address, None);

        Assert.False(result.Ok);
        Assert.Contains($"contains '{character}'", result.Message, StringComparison.Ordinal);
        Assert.Empty(await _store.ListUsersAsync(None));
    }

    [Fact]
    public async Task MailQueue_RecipientTheMailLibraryCannotRead_SkippedAndTheNextMessageStillSent()
    {
        // Arrange: an address stored before sign-up checked it this way (or made by an operator)
        await PortalAsync();
        var queue = _queues[^1];

        // Act
        Assert.True(await queue.EnqueueAsync(new PortalEmail("a:b@example.com", "first", "body"), None));
        Assert.True(await queue.EnqueueAsync(new PortalEmail("ok@example.com", "second", "body"), None));
        var delivered = await _smtp.NextToAsync("ok@example.com");

        // Assert: the queue (a background service: an exception escaping it stops the gateway) kept going
        Assert.Equal("second", delivered.Subject);
        Assert.False(queue.ExecuteTask!.IsCompleted);
    }

    [Fact]
    public async Task MailQueue_ServerAcceptsAndNeverAnswers_TimeoutLoggedAndQueueKeepsRunning()
    {
        // Arrange: a listener on loopback that takes the connection and never sends the greeting; a short SMTP timeout
        using var silent = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        silent.Start();
        var port = ((System.Net.IPEndPoint)silent.LocalEndpoint).Port;
        Assert.True(SmtpEndpoint.TryParse($"smtp://127.0.0.1:{port}", out var endpoint, out var problem), problem);
        var options = new PortalOptions { Enabled = true, Smtp = endpoint, Sender = "no-reply@example.com", SmtpTimeout = TimeSpan.FromMilliseconds(200) };
        var logger = new RecordingLogger<PortalMailQueue>();
        using var queue = new PortalMailQueue(options, new Gateway.Identity.AttemptCounter(_store, _clock), logger);
        await queue.StartAsync(None);
        var accepting = silent.AcceptTcpClientAsync();

        // Act
        Assert.True(queue.EnqueueReserved(new PortalEmail("someone@example.com", "subject", "body")));
        using var accepted = await accepting;
        var failure = await NextEntryAsync(logger, 8003);
        var running = !queue.ExecuteTask!.IsCompleted;
        await queue.StopAsync(None);

        // Assert: the attempt ended with the timeout named (an error, with the server and never a password)
        Assert.Equal(LogLevel.Error, failure.Level);
        Assert.True(running); // and the queue went on waiting for the next message
        Assert.Equal($"Portal email could not be sent through smtp://127.0.0.1:{port}: the server did not answer within 0.2 s (smtp.timeout); 1 queued message(s) tried again in 1 s", failure.Message);
    }

    [Fact]
    public async Task MailQueue_ServerRefusesThePassword_TriedAgainLaterEachTime_PasswordNeverLogged()
    {
        // Arrange: the test's SMTP server, and a gateway configured with a wrong password for it
        var url = $"smtp://{TestSmtpServer.User}:{Uri.EscapeDataString("wrong-pa55")}@127.0.0.1:{_smtp.Port}";
        Assert.True(SmtpEndpoint.TryParse(url, out var endpoint, out var problem), problem);
        var options = new PortalOptions { Enabled = true, Smtp = endpoint, Sender = "no-reply@example.com" };
        var logger = new RecordingLogger<PortalMailQueue>();
        using var queue = new PortalMailQueue(options, new Gateway.Identity.AttemptCounter(_store, _clock), logger, _clock);
        await queue.StartAsync(None);

        // Act: one message, then the clock moved on a second at a time until the server has refused four attempts
        Assert.True(queue.EnqueueReserved(new PortalEmail("someone@example.com", "subject", "body")));
        await NextEntryAsync(logger, 8003);
        for (var i = 0; i < 3_000 && logger.Count(8003) < 4; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(10); // bounded: lets the queue's attempt run against the real server
        }

        await queue.StopAsync(None);

        // Assert: each refusal logged with the wait before the next, doubling (1, 2, 4, 8 s), the message kept queued; the
        // server named without the password
        var failures = logger.Entries.Where(e => e.EventId == 8003).Take(4).Select(e => e.Message).ToList();
        Assert.Equal(4, failures.Count);
        Assert.All(failures, m => Assert.StartsWith($"Portal email could not be sent through smtp://{TestSmtpServer.User}:***@127.0.0.1:{_smtp.Port}: ", m, StringComparison.Ordinal));
        Assert.Equal(["in 1 s", "in 2 s", "in 4 s", "in 8 s"], failures.Select(m => m[m.LastIndexOf("in ", StringComparison.Ordinal)..]));
        Assert.All(failures, m => Assert.Contains("; 1 queued message(s) tried again", m, StringComparison.Ordinal));
        Assert.DoesNotContain(logger.Messages, m => m.Contains("wrong-pa55", StringComparison.Ordinal));
        Assert.Empty(_smtp.Messages);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 2)]
    [InlineData(4, 16)]
    [InlineData(8, 256)]
    [InlineData(9, 300)]
    [InlineData(40, 300)]
    public void MailQueue_RetryDelay_DoublesFromOneSecondUpToFiveMinutes(int failuresBefore, int seconds)
    {
        Assert.Equal(TimeSpan.FromSeconds(seconds), PortalMailQueue.RetryDelay(failuresBefore));
    }

    /// <summary>
    /// The first entry with <paramref name="eventId"/>, waiting for it as <see cref="TestSmtpServer.NextToAsync"/> waits
    /// for a message (up to 30 s, a bound on a test that would otherwise hang, not a measure of anything).
    /// </summary>
    private static async Task<(int EventId, LogLevel Level, string Message)> NextEntryAsync<T>(RecordingLogger<T> logger, int eventId)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (!logger.Entries.Any(e => e.EventId == eventId))
        {
            await Task.Delay(TimeSpan.FromMilliseconds(20), timeout.Token);
        }

        return logger.Entries.First(e => e.EventId == eventId);
    }

    private async Task<PortalAccountService> PortalAsync(
        bool smtp = true, bool requireVerification = true, string baseUrl = "https://developers.example.com", RecordingLogger<PortalAccountService>? logger = null,
        Core.Storage.IGatewayStore? store = null, ConflictBackOff? backOff = null)
    {
        SmtpEndpoint? endpoint = null;
        if (smtp)
        {
            Assert.True(SmtpEndpoint.TryParse(_smtp.Url, out endpoint, out var problem), problem);
        }

        var options = new PortalOptions
        {
            Enabled = true,
            AppName = "Portal Test",
            BaseUrl = baseUrl,
            RequireVerification = requireVerification,
            Smtp = endpoint,
            Sender = "no-reply@example.com",
        };
        var counter = new Gateway.Identity.AttemptCounter(_store, _clock);
        var queue = new PortalMailQueue(options, counter, NullLogger<PortalMailQueue>.Instance);
        _queues.Add(queue);
        await queue.StartAsync(None);
        var billing = new ApiGate.Core.Management.BillingService(null, store ?? _store, store ?? _store, _clock, ApiGate.Core.Billing.PaymentFailedAction.Suspend);
        var linkRequests = new PortalLinkRequestQueue(NullLogger<PortalLinkRequestQueue>.Instance);
        var portal = new PortalAccountService(store ?? _store, options, queue, linkRequests, new LoginLimiter(counter), billing, _clock,
            logger ?? (Microsoft.Extensions.Logging.ILogger<PortalAccountService>)NullLogger<PortalAccountService>.Instance, backOff);
        // Reset and confirmation links asked for by address are made after the answer, by the worker, as in the gateway
        var worker = new PortalLinkRequestWorker(linkRequests, portal, NullLogger<PortalLinkRequestWorker>.Instance);
        _workers.Add(worker);
        await worker.StartAsync(None);
        return portal;
    }
}
