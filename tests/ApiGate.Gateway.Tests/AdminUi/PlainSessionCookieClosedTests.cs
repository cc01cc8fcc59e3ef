using System.Net;
using System.Security.Cryptography;
using System.Text;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Portal;
using ApiGate.Gateway.Admin;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Web.Admin;
using ApiGate.Web.Portal;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>
/// Over TLS a plainly named session cookie of the console or the portal (kept from before the <c>__Host-</c> prefix) is
/// deleted by the answer; the session it names is closed in the store as well, so replaying its value (over plain HTTP,
/// where the plain name is still the session's) no longer signs anyone in. Only the session whose secret the request
/// carries ends: another of the same subject, the new one a sign-in sets, and one of the other application stay live.
/// On both engines: SQLite and PostgreSQL keep the sessions in different stores.
/// </summary>
public sealed class PlainSessionCookieClosedTests(StoreEngines engines) : IClassFixture<StoreEngines>, IAsyncLifetime
{
    private const string AdminPlain = "apigate_ui_session";
    private const string PortalPlain = "apigate_portal_session";
    private const string Password = "correct horse battery";
    private readonly HttpClient _client = TestGateway.CreateClient();
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
    private TestGateway? _gateway;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        _client.Dispose();
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConsolePage_OverTlsWithPlainCookie_ItsSessionClosedAndAnotherStaysLive(string engine)
    {
        // Arrange: two sessions of one admin token; the first as a plain cookie left from plain HTTP
        var gateway = await StartAsync(engine);
        var (plain, other) = await TwoConsoleSessionsAsync(gateway);

        // Act and Assert: deleted in the browser, closed in the store, dead when replayed; the other session untouched
        await PlainAloneClosedAndOtherLiveAsync(gateway, Site.Console, plain, other);
        Assert.NotNull(await gateway.Store.FindWebSessionAsync(IdOf(other), CancellationToken.None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConsolePage_OverTlsWithPlainCookieBesideLiveHostSession_PlainDeletedAndClosedPageServed(string engine)
    {
        // Arrange: a live __Host- session, and an older session of the same token as a plain cookie left from plain HTTP
        var gateway = await StartAsync(engine);
        var (plain, live) = await TwoConsoleSessionsAsync(gateway);

        // Act and Assert: an ordinary page view sending both is served, the plain cookie deleted and its session closed;
        // the live session untouched
        await PlainBesideLiveClosedAsync(gateway, Site.Console, plain, live);

        // A plain cookie holding the live session's own value: deleted, but the session it also signs in with stays
        using var same = await SendAsync(gateway, "/ui/routes", "__Host-" + AdminPlain + "=" + live + "; " + AdminPlain + "=" + live, tls: true);
        Assert.Equal(HttpStatusCode.OK, same.StatusCode);
        Assert.Single(CookiesOf(same), c => c.StartsWith(AdminPlain + "=;", StringComparison.Ordinal));
        Assert.NotNull(await gateway.Store.FindWebSessionAsync(IdOf(live), CancellationToken.None));
        await HostSessionLiveAsync(gateway, Site.Console, live);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task PortalPage_OverTlsWithPlainCookieBesideLiveHostSession_PlainDeletedAndClosedPageServed(string engine)
    {
        // Arrange: a live __Host- session, and an older session of the same customer as a plain cookie
        var gateway = await StartAsync(engine);
        var (plain, live) = await TwoPortalSessionsAsync(gateway, "beside@customer.example");

        // Act and Assert
        await PlainBesideLiveClosedAsync(gateway, Site.Portal, plain, live);
        await HostSessionLiveAsync(gateway, Site.Portal, live);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task PortalPublicPage_OverTlsWithPlainCookieBesideLiveHostSession_PlainDeletedAndClosedPageServed(string engine)
    {
        var gateway = await StartAsync(engine);
        foreach (var page in new[] { "/portal/login", "/portal/signup", "/portal/forgot" })
        {
            // Arrange: a live __Host- session, and an older session of the same customer as a plain cookie
            var (plain, live) = await TwoPortalSessionsAsync(gateway, "public" + page[8..] + "@customer.example");

            // Act and Assert: a public page (it reads no session) opened from the signed-in browser
            await PlainBesideLiveClosedAsync(gateway, Site.Portal, plain, live, page);
            await HostSessionLiveAsync(gateway, Site.Portal, live);
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConsoleLoginPage_OverTlsWithPlainCookieBesideLiveHostSession_PlainDeletedAndClosedPageServed(string engine)
    {
        // Arrange: a live __Host- session, and an older session of the same token as a plain cookie
        var gateway = await StartAsync(engine);
        var (plain, live) = await TwoConsoleSessionsAsync(gateway);

        // Act and Assert: the login page (it reads no session) opened from the signed-in browser
        await PlainBesideLiveClosedAsync(gateway, Site.Console, plain, live, "/ui/login");
        await HostSessionLiveAsync(gateway, Site.Console, live);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task PortalPublicPage_OverTlsWithPlainCookieNotAPortalSessionsSecret_NoSessionClosed(string engine)
    {
        // Arrange: a live console session, and a live portal session sent as the __Host- cookie
        var gateway = await StartAsync(engine);
        var (_, caller) = await AdminTokenAsync(gateway);
        var console = await new AdminSessions(gateway.Store, gateway.Options, TimeProvider.System).OpenAsync(caller, CancellationToken.None);
        var (plain, live) = await TwoPortalSessionsAsync(gateway, "other-kind@customer.example");

        // Act: plain portal cookies holding a console session's secret and another portal session's id (not its secret)
        using var response = await SendAsync(gateway, "/portal/login",
            "__Host-" + PortalPlain + "=" + live + "; " + PortalPlain + "=" + console + "; " + PortalPlain + "=" + IdOf(plain), tls: true);

        // Assert: the page served, and no session ended
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(await gateway.Store.FindWebSessionAsync(IdOf(console), CancellationToken.None));
        Assert.NotNull(await gateway.Store.FindWebSessionAsync(IdOf(plain), CancellationToken.None));
        Assert.NotNull(await gateway.Store.FindWebSessionAsync(IdOf(live), CancellationToken.None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ConsoleSignIn_OverTlsWithPlainCookie_ItsSessionClosedAndTheNewHostSessionWorks(string engine)
    {
        // Arrange
        var gateway = await StartAsync(engine);
        var (token, caller) = await AdminTokenAsync(gateway);
        var plain = await new AdminSessions(gateway.Store, gateway.Options, TimeProvider.System).OpenAsync(caller, CancellationToken.None);
        using var loginPage = await SendAsync(gateway, "/ui/login", null, tls: true);
        var antiforgery = CookiesOf(loginPage).Single(c => c.StartsWith("apigate_af=", StringComparison.Ordinal)).Split(';')[0];
        var field = FormPosts.TokenIn(await loginPage.Content.ReadAsStringAsync(), "/ui/login");

        // Act: the browser still sends the plain cookie with the sign-in
        using var signedIn = await SendAsync(gateway, "/ui/login", antiforgery + "; " + AdminPlain + "=" + plain, tls: true,
            new FormUrlEncodedContent([new("_handler", "login"), new("__RequestVerificationToken", field), new("Token", token), new("Return", "/ui/routes")]));

        // Assert
        Assert.Equal(HttpStatusCode.Found, signedIn.StatusCode);
        var set = CookiesOf(signedIn).Single(c => c.StartsWith("__Host-" + AdminPlain + "=", StringComparison.Ordinal)).Split(';')[0];
        Assert.Single(CookiesOf(signedIn), c => c.StartsWith(AdminPlain + "=;", StringComparison.Ordinal));
        Assert.Null(await gateway.Store.FindWebSessionAsync(IdOf(plain), CancellationToken.None));
        using var replayed = await SendAsync(gateway, "/ui/routes", AdminPlain + "=" + plain, tls: false);
        Assert.Equal(HttpStatusCode.Found, replayed.StatusCode);
        using var live = await SendAsync(gateway, "/ui/routes", set, tls: true);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task PortalPage_OverTlsWithPlainCookie_ItsSessionClosedAndAnotherStaysLive(string engine)
    {
        // Arrange: two sessions of one customer; the first as a plain cookie left from plain HTTP
        var gateway = await StartAsync(engine);
        var (plain, other) = await TwoPortalSessionsAsync(gateway, "upgraded@customer.example");

        // Act and Assert
        await PlainAloneClosedAndOtherLiveAsync(gateway, Site.Portal, plain, other);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task PortalPage_OverTlsWithPlainCookieNotItsOwnSecret_NoSessionClosed(string engine)
    {
        // Arrange: a live console session and a live portal session
        var gateway = await StartAsync(engine);
        var (_, caller) = await AdminTokenAsync(gateway);
        var console = await new AdminSessions(gateway.Store, gateway.Options, TimeProvider.System).OpenAsync(caller, CancellationToken.None);
        var (userId, hash) = await CustomerAsync(gateway, "victim@customer.example");
        var portal = await new PortalSessions(gateway.Store, TimeProvider.System).OpenAsync(userId, hash, CancellationToken.None);

        // Act: plain portal cookies holding what is not a portal session's secret: a console session's secret, and the
        // portal session's id (its SHA-256, what the store holds), as someone who can plant cookies but not read them might
        using var response = await SendAsync(
            gateway, "/portal/keys", PortalPlain + "=" + console + "; " + PortalPlain + "=" + IdOf(portal), tls: true);

        // Assert: refused as before, and neither session ended
        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.NotNull(await gateway.Store.FindWebSessionAsync(IdOf(console), CancellationToken.None));
        Assert.NotNull(await gateway.Store.FindWebSessionAsync(IdOf(portal), CancellationToken.None));
        using var consoleLive = await SendAsync(gateway, "/ui/routes", AdminPlain + "=" + console, tls: false);
        Assert.Equal(HttpStatusCode.OK, consoleLive.StatusCode);
        using var portalLive = await SendAsync(gateway, "/portal/keys", PortalPlain + "=" + portal, tls: false);
        Assert.Equal(HttpStatusCode.OK, portalLive.StatusCode);
    }

    /// <summary>
    /// A plain cookie whose session is live over plain HTTP is sent alone over TLS: it is deleted, its session closed in
    /// the store and sent to sign in when replayed; <paramref name="other"/>, a session of the same subject, still signs in.
    /// </summary>
    private async Task PlainAloneClosedAndOtherLiveAsync(TestGateway gateway, Site site, string plain, string other)
    {
        using (var before = await SendAsync(gateway, site.Page, site.Cookie + "=" + plain, tls: false))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode); // the value is a live session until the TLS request
        }

        using var response = await SendAsync(gateway, site.Page, site.Cookie + "=" + plain, tls: true);

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(site.Expired, response.Headers.Location!.OriginalString);
        Assert.Single(CookiesOf(response), c => c.StartsWith(site.Cookie + "=;", StringComparison.Ordinal));
        Assert.Null(await gateway.Store.FindWebSessionAsync(IdOf(plain), CancellationToken.None));
        using var replayed = await SendAsync(gateway, site.Page, site.Cookie + "=" + plain, tls: false);
        Assert.Equal(HttpStatusCode.Found, replayed.StatusCode);
        Assert.Equal(site.Expired, replayed.Headers.Location!.OriginalString);
        using var live = await SendAsync(gateway, site.Page, "__Host-" + site.Cookie + "=" + other, tls: true);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    /// <summary>
    /// A page view over TLS (of <paramref name="page"/>, else the site's page behind sign-in) sends the live <c>__Host-</c>
    /// session and a plain cookie of an older one: the page is served, the plain cookie deleted once and its session closed
    /// (sent to sign in when replayed); the live session untouched.
    /// </summary>
    private async Task PlainBesideLiveClosedAsync(TestGateway gateway, Site site, string plain, string live, string? page = null)
    {
        page ??= site.Page;
        using var response = await SendAsync(gateway, page, "__Host-" + site.Cookie + "=" + live + "; " + site.Cookie + "=" + plain, tls: true);

        Assert.Equal((page, HttpStatusCode.OK), (page, response.StatusCode));
        Assert.Single(CookiesOf(response), c => c.StartsWith(site.Cookie + "=;", StringComparison.Ordinal));
        Assert.DoesNotContain(CookiesOf(response), c => c.StartsWith("__Host-" + site.Cookie + "=", StringComparison.Ordinal));
        Assert.Null(await gateway.Store.FindWebSessionAsync(IdOf(plain), CancellationToken.None));
        Assert.NotNull(await gateway.Store.FindWebSessionAsync(IdOf(live), CancellationToken.None));
        using var replayed = await SendAsync(gateway, site.Page, site.Cookie + "=" + plain, tls: false);
        Assert.Equal(HttpStatusCode.Found, replayed.StatusCode);
        Assert.Equal(site.Expired, replayed.Headers.Location!.OriginalString);
    }

    /// <summary>The <c>__Host-</c> session alone still serves the page, and the answer says nothing of the plain cookie.</summary>
    private async Task HostSessionLiveAsync(TestGateway gateway, Site site, string live)
    {
        using var still = await SendAsync(gateway, site.Page, "__Host-" + site.Cookie + "=" + live, tls: true);
        Assert.Equal(HttpStatusCode.OK, still.StatusCode);
        Assert.DoesNotContain(CookiesOf(still), c => c.Contains(site.Cookie, StringComparison.Ordinal));
    }

    private async Task<TestGateway> StartAsync(string engine)
    {
        var dsn = engine == GatewayStores.Sqlite ? Path.Combine(_directory, "apigate.db") : await engines.NewDsnAsync(engine);
        _gateway = await TestGateway.StartAsync(
            o =>
            {
                o.DatabaseDriver = engine;
                o.DatabaseDsn = dsn;
                o.TrustedProxies = "127.0.0.0/8"; // X-Forwarded-Proto: https from the test says the browser sees TLS
                o.PortalEnabled = true;
                o.PortalAppName = "Acme API";
            },
            directory: _directory);
        return _gateway;
    }

    private static async Task<(string Token, AdminCaller Caller)> AdminTokenAsync(TestGateway gateway)
    {
        var created = (await new AdminTokenService(gateway.Store, TimeProvider.System).CreateAsync("plain-cookie", CancellationToken.None)).Value!;
        return (created.Token, new AdminCaller(created.Record.Id, created.Record.Name));
    }

    /// <summary>Two console sessions of one new admin token: the cookie values, oldest first.</summary>
    private static async Task<(string First, string Second)> TwoConsoleSessionsAsync(TestGateway gateway)
    {
        var (_, caller) = await AdminTokenAsync(gateway);
        var sessions = new AdminSessions(gateway.Store, gateway.Options, TimeProvider.System);
        var first = await sessions.OpenAsync(caller, CancellationToken.None);
        return (first, await sessions.OpenAsync(caller, CancellationToken.None));
    }

    /// <summary>Two portal sessions of one new customer with <paramref name="email"/>: the cookie values, oldest first.</summary>
    private static async Task<(string First, string Second)> TwoPortalSessionsAsync(TestGateway gateway, string email)
    {
        var (userId, hash) = await CustomerAsync(gateway, email);
        var sessions = new PortalSessions(gateway.Store, TimeProvider.System);
        var first = await sessions.OpenAsync(userId, hash, CancellationToken.None);
        return (first, await sessions.OpenAsync(userId, hash, CancellationToken.None));
    }

    /// <summary>An active portal customer written straight to the store: the user's id and the account's password hash.</summary>
    private static async Task<(string UserId, string PasswordHash)> CustomerAsync(TestGateway gateway, string email)
    {
        var user = (await gateway.Users.BuildNewAsync(new UserChanges { Email = email, Status = UserStatus.Active }, CancellationToken.None)).Value!;
        var hash = PortalPasswords.Hash(Password);
        await gateway.Store.CreatePortalUserAsync(user, new PortalAccount
        {
            UserId = user.Id,
            PasswordHash = hash,
            CreatedAt = user.CreatedAt,
            UpdatedAt = user.CreatedAt,
        }, CancellationToken.None);
        return (user.Id, hash);
    }

    /// <summary>A page request; over TLS as a trusted proxy that ended the browser's TLS passes it on, else plain HTTP.</summary>
    private async Task<HttpResponseMessage> SendAsync(TestGateway gateway, string path, string? cookie, bool tls, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(content is null ? HttpMethod.Get : HttpMethod.Post, gateway.Url + path) { Content = content };
        if (tls)
        {
            request.Headers.Add("X-Forwarded-Proto", "https");
        }

        if (cookie is not null)
        {
            request.Headers.TryAddWithoutValidation("Cookie", cookie);
        }

        return await _client.SendAsync(request);
    }

    /// <summary>The stored session's id for a cookie value: its SHA-256, as the store keeps it.</summary>
    private static string IdOf(string cookie) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(cookie)));

    private static IEnumerable<string> CookiesOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values) ? values : [];

    /// <summary>The console or the portal: a page behind sign-in, the plain name of its session cookie, and where a closed session is sent.</summary>
    private sealed record Site(string Page, string Cookie, string Expired)
    {
        public static readonly Site Console = new("/ui/routes", AdminPlain, "/ui/login?return=%2Fui%2Froutes&expired=1");

        public static readonly Site Portal = new("/portal/keys", PortalPlain, "/portal/login?return=%2Fportal%2Fkeys&expired=1");
    }
}
