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
}
