using ApiGate.Gateway.Admin;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Web.Admin;
using ApiGate.Web.Portal;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The console's and the portal's sessions over one real store, on a fake clock.</summary>
public sealed class StoredSessionsTests : IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.Zero));
    private TempStore _store = null!;

    public async Task InitializeAsync() => _store = await TempStore.CreateAsync();

    public async Task DisposeAsync() => await _store.DisposeAsync();

    [Fact]
    public async Task Find_CookieOfTheOtherApplication_NoSession()
    {
        // Arrange: one session of each kind
        var admin = new AdminSessions(_store.Store, new GatewayOptions(), _clock);
        var portal = new PortalSessions(_store.Store, _clock);
        var adminCookie = await admin.OpenAsync(new AdminCaller("adt_1", "ops"), None);
        var portalCookie = await portal.OpenAsync("usr_1", "password-hash", None);

        // Act
        var portalAsAdmin = await admin.FindAsync(portalCookie, None);
        var adminAsPortal = await portal.FindAsync(adminCookie, None);

        // Assert: each is found by its own application only
        Assert.Null(portalAsAdmin);
        Assert.Null(adminAsPortal);
        Assert.Equal("adt_1", (await admin.FindAsync(adminCookie, None))?.SubjectId);
        Assert.Equal("usr_1", (await portal.FindAsync(portalCookie, None))?.SubjectId);
    }

    [Fact]
    public async Task Find_UsedWithinTheTouchInterval_WritesTheUseOnlyOncePerInterval()
    {
        // Arrange
        var admin = new AdminSessions(_store.Store, new GatewayOptions { AdminUiSessionIdle = TimeSpan.FromHours(8) }, _clock);
        var cookie = await admin.OpenAsync(new AdminCaller("adt_1", "ops"), None);
        var opened = _clock.GetUtcNow();

        // Act: used 30 s later (not recorded), then 61 s after opening (recorded)
        _clock.Advance(TimeSpan.FromSeconds(30));
        var early = await admin.FindAsync(cookie, None);
        var storedAfterEarly = (await _store.Store.FindWebSessionAsync(early!.Id, None))!.LastSeenAt;
        _clock.Advance(TimeSpan.FromSeconds(31));
        await admin.FindAsync(cookie, None);
        var storedAfterLate = (await _store.Store.FindWebSessionAsync(early.Id, None))!.LastSeenAt;

        // Assert
        Assert.Equal(opened, storedAfterEarly);
        Assert.Equal(opened.AddSeconds(61), storedAfterLate);
    }

    [Fact]
    public async Task Find_PasswordChangedSinceLogin_SessionNoLongerOpenedUnderTheNewHash()
    {
        // Arrange
        var portal = new PortalSessions(_store.Store, _clock);
        var cookie = await portal.OpenAsync("usr_1", "old-hash", None);

        // Act
        var session = await portal.FindAsync(cookie, None);

        // Assert
        Assert.True(PortalSessions.OpenedUnder(session!, "old-hash"));
        Assert.False(PortalSessions.OpenedUnder(session!, "new-hash"));
        Assert.DoesNotContain("old-hash", session!.Binding, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Find_ConsoleSessionUsedEverySixHours_EndsADayAfterSignIn()
    {
        // Arrange: a console session (8 h idle) kept in use, as a stolen cookie would be
        var admin = new AdminSessions(_store.Store, new GatewayOptions { AdminUiSessionIdle = TimeSpan.FromHours(8) }, _clock);
        var cookie = await admin.OpenAsync(new AdminCaller("adt_1", "ops"), None);
        var alive = new List<bool>();

        // Act
        for (var i = 0; i < 3; i++)
        {
            _clock.Advance(TimeSpan.FromHours(6));
            alive.Add(await admin.FindAsync(cookie, None) is not null);
        }

        _clock.Advance(TimeSpan.FromHours(6));
        var afterADay = await admin.FindAsync(cookie, None);

        // Assert: alive at 6, 12 and 18 hours, gone at 24 — and gone from the store, not just refused
        Assert.Equal([true, true, true], alive);
        Assert.Null(afterADay);
        Assert.Equal(0, await admin.CountAsync(None));
    }

    [Fact]
    public async Task Lifetime_ConsoleIdleSetLongerThanADay_LastsAsLongAsTheIdleTimeout()
    {
        // Arrange
        var admin = new AdminSessions(_store.Store, new GatewayOptions { AdminUiSessionIdle = TimeSpan.FromDays(3) }, _clock);
        var cookie = await admin.OpenAsync(new AdminCaller("adt_1", "ops"), None);

        // Act
        _clock.Advance(TimeSpan.FromDays(2));
        var afterTwoDays = await admin.FindAsync(cookie, None);
        _clock.Advance(TimeSpan.FromDays(1));
        var afterThreeDays = await admin.FindAsync(cookie, None);

        // Assert
        Assert.Equal(TimeSpan.FromDays(3), admin.Lifetime);
        Assert.NotNull(afterTwoDays);
        Assert.Null(afterThreeDays);
    }

    [Fact]
    public async Task Find_PortalSessionUsedEveryTenHours_EndsSevenDaysAfterLogin()
    {
        // Arrange
        var portal = new PortalSessions(_store.Store, _clock);
        var cookie = await portal.OpenAsync("usr_1", "hash", None);
        var lastAlive = TimeSpan.Zero;

        // Act: used every 10 hours (inside the 12-hour idle timeout) until it is refused
        for (var used = TimeSpan.FromHours(10); used <= TimeSpan.FromDays(8); used += TimeSpan.FromHours(10))
        {
            _clock.Advance(TimeSpan.FromHours(10));
            if (await portal.FindAsync(cookie, None) is null)
            {
                break;
            }

            lastAlive = used;
        }

        // Assert: the last use that worked was the last one before 7 days (160 h); the one at 170 h was refused
        Assert.Equal(TimeSpan.FromHours(160), lastAlive);
    }
}
