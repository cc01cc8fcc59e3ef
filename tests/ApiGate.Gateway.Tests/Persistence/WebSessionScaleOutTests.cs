using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.AdminUi;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Persistence;

/// <summary>
/// Console and portal sessions behind a load balancer without sticky sessions: two gateways on one PostgreSQL
/// database, a browser whose requests alternate between them. A sign-in on one instance is honoured by the other, a
/// form rendered by one is accepted by the other (one shared antiforgery key), and a logout or a revoked admin token
/// ends the session on both; wrong admin tokens are counted across both. On SQLite the same store makes sessions and
/// open forms outlive a restart.
/// </summary>
public sealed class WebSessionScaleOutTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const string Password = "correct horse battery";

    [PostgresFact]
    public async Task Console_SignedInThroughOneInstance_PagesFormsAndLogoutWorkThroughTheOther()
    {
        // Arrange: two instances started at once on a new database (both find no forms key and race to make it);
        // the browser signs in through instance one
        var dsn = await engines.NewDsnAsync(GatewayStores.Postgres);
        var started = await Task.WhenAll(StartAsync(dsn), StartAsync(dsn));
        await using var one = started[0];
        await using var two = started[1];
        var token = (await new AdminTokenService(one.Store, TimeProvider.System).CreateAsync("lb-console", CancellationToken.None)).Value!.Token;
        using var browser = new ConsoleHttp(one.Url);
        await browser.SignInAsync(token);
        var formFromOne = await browser.TokenFromAsync("/ui/routes/new");

        // Act: the next requests land on instance two
        browser.BaseUrl = two.Url;
        using var page = await browser.GetAsync("/ui/routes");
        using var created = await browser.PostAsync("/ui/routes/new",
            [new("_handler", "route"), new("name", "balanced"), new("path", "/balanced/*"), new("enabled", "true"), new("__RequestVerificationToken", formFromOne)]);
        var formFromTwo = await browser.TokenFromAsync("/ui/logout");
        browser.BaseUrl = one.Url;
        using var loggedOut = await browser.PostAsync("/ui/logout", [new("_handler", "logout"), new("__RequestVerificationToken", formFromTwo)]);
        var cookieAfterLogout = browser.HasCookie("apigate_ui_session");

        // Assert
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal(HttpStatusCode.Found, created.StatusCode);
        Assert.Equal("balanced", Assert.Single(await one.Routes.ListAsync(CancellationToken.None)).Name);
        Assert.Equal(HttpStatusCode.Found, loggedOut.StatusCode);
        Assert.Equal("/ui/login?logged_out=1", browser.PathOf(loggedOut));
        Assert.False(cookieAfterLogout);
        Assert.Equal(0, await one.Store.CountWebSessionsAsync(Core.Identity.WebSessionKind.Admin, DateTimeOffset.UnixEpoch, CancellationToken.None));
    }

    [PostgresFact]
    public async Task AuditPage_ChangesThroughEitherInstance_ListedOnBothRefusedOnesNowhere()
    {
        // Arrange
        var dsn = await engines.NewDsnAsync(GatewayStores.Postgres);
        await using var one = await StartAsync(dsn);
        await using var two = await StartAsync(dsn);
        var token = (await new AdminTokenService(one.Store, TimeProvider.System).CreateAsync("auditor", CancellationToken.None)).Value!.Token;
        using var api = TestGateway.CreateClient();

        // Act: a change through instance one's admin API, one refused there (no token), one through instance two's console
        using var created = await SendAdminAsync(api, one.Url + "/admin/plans", token, """{"id":"gold","name":"Gold"}""");
        using var refused = await SendAdminAsync(api, one.Url + "/admin/plans", null, """{"id":"silver","name":"Silver"}""");
        using var browser = new ConsoleHttp(two.Url);
        await browser.SignInAsync(token);
        var form = await browser.TokenFromAsync("/ui/plans");
        using var viaConsole = await browser.PostAsync("/ui/plans", [new("_handler", "plan"), new("__RequestVerificationToken", form), new("id", "bronze"), new("name", "Bronze"), new("enabled", "true")]);
        browser.BaseUrl = one.Url;
        using var auditOnOne = await browser.GetAsync("/ui/audit");
        var html = await auditOnOne.Content.ReadAsStringAsync();
        var stored = await two.Store.ListAdminAuditAsync(10, CancellationToken.None);

        // Assert
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(HttpStatusCode.Found, viaConsole.StatusCode);
        Assert.Equal(["POST /ui/plans", "POST /ui/login", "POST /admin/plans"], stored.Select(r => r.Method + " " + r.Path));
        Assert.All(stored, r => Assert.Equal("auditor", r.TokenName));
        Assert.Contains("Created plan bronze.", html, StringComparison.Ordinal);
        Assert.Contains("<code>POST /admin/plans</code>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("silver", html, StringComparison.OrdinalIgnoreCase);
    }

    [PostgresFact]
    public async Task Console_TokenRevokedThroughOneInstance_OtherInstanceEndsTheSessionOnceItsOneSecondOfTrustEnds()
    {
        // Arrange: instance two on a clock the test moves (the second it trusts a verified token is then its own second,
        // not a shared machine's); the browser signed in there, its token verified and trusted
        var dsn = await engines.NewDsnAsync(GatewayStores.Postgres);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var one = await StartAsync(dsn);
        await using var two = await StartAsync(dsn, clock: clock);
        var tokens = new AdminTokenService(one.Store, TimeProvider.System);
        var token = (await tokens.CreateAsync("to-revoke", CancellationToken.None)).Value!.Token;
        using var browser = new ConsoleHttp(two.Url);
        await browser.SignInAsync(token);
        using (var before = await browser.GetAsync("/ui"))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        // Act: revoke through instance one's side of the store; instance two's trust runs out; keep browsing there
        Assert.True((await tokens.RevokeAsync("to-revoke", CancellationToken.None)).Ok);
        clock.Advance(TimeSpan.FromSeconds(1)); // the promised second, not AdminAuthenticator.TrustFor: a longer trust breaks the promise
        using var after = await browser.GetAsync("/ui");

        // Assert: asked again a second after it verified the token, instance two sends the browser to the login page and
        // ends the session in the shared store
        Assert.Equal(HttpStatusCode.Found, after.StatusCode);
        Assert.StartsWith("/ui/login", browser.PathOf(after), StringComparison.Ordinal);
        Assert.Equal(0, await one.Store.CountWebSessionsAsync(Core.Identity.WebSessionKind.Admin, DateTimeOffset.UnixEpoch, CancellationToken.None));
    }

    [PostgresFact]
    public async Task Console_WrongTokensSpreadOverBothInstances_LockedOutOnBothAfterFive()
    {
        // Arrange
        var dsn = await engines.NewDsnAsync(GatewayStores.Postgres);
        await using var one = await StartAsync(dsn);
        await using var two = await StartAsync(dsn);
        using var browser = new ConsoleHttp(one.Url);

        // Act: a guesser alternating between the instances
        var statuses = new List<HttpStatusCode>();
        for (var attempt = 0; attempt < 7; attempt++)
        {
            browser.BaseUrl = attempt % 2 == 0 ? one.Url : two.Url;
            var antiforgery = await browser.TokenFromAsync("/ui/login");
            using var response = await browser.PostAsync("/ui/login",
                [new("_handler", "login"), new("__RequestVerificationToken", antiforgery), new("Token", "agt_" + new string('2', 64))]);
            statuses.Add(response.StatusCode);
        }

        // Assert: five tries in all, not five per instance
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.Unauthorized, 5), HttpStatusCode.TooManyRequests, HttpStatusCode.TooManyRequests], statuses);
    }

    [PostgresFact]
    public async Task Portal_LoggedInThroughOneInstance_DashboardAndLogoutThroughTheOther()
    {
        // Arrange: a customer signs up and logs in through instance one
        var dsn = await engines.NewDsnAsync(GatewayStores.Postgres);
        await using var one = await StartAsync(dsn, portal: true);
        await using var two = await StartAsync(dsn, portal: true);
        Assert.True((await one.Service<PortalAccountService>().SignUpAsync("lb@customer.example", Password, one.Url, "127.0.0.1", CancellationToken.None)).Ok);
        using var browser = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, CookieContainer = new CookieContainer() });
        using var login = await FormPosts.PostAsync(browser, one.Url + "/portal/login", "login", ("Email", "lb@customer.example"), ("Password", Password));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);

        // Act: the dashboard through instance two, then a logout form rendered by two posted to one
        using var dashboard = await browser.GetAsync(two.Url + "/portal");
        var logoutPage = await browser.GetStringAsync(two.Url + "/portal/logout");
        using var logout = await browser.PostAsync(one.Url + "/portal/logout", new FormUrlEncodedContent(
            [new("_handler", "logout"), new("__RequestVerificationToken", FormPosts.TokenIn(logoutPage, "/portal/logout"))]));
        using var afterLogout = await browser.GetAsync(two.Url + "/portal");

        // Assert
        Assert.Equal(HttpStatusCode.OK, dashboard.StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, logout.StatusCode);
        Assert.StartsWith("/portal/login?logged_out=1", new Uri(new Uri(one.Url), logout.Headers.Location!).PathAndQuery, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, afterLogout.StatusCode);
        Assert.StartsWith("/portal/login", new Uri(new Uri(two.Url), afterLogout.Headers.Location!).PathAndQuery, StringComparison.Ordinal);
        Assert.Equal(0, await one.Store.CountWebSessionsAsync(Core.Identity.WebSessionKind.Portal, DateTimeOffset.UnixEpoch, CancellationToken.None));
    }

    [PostgresFact]
    public async Task EveryPage_StoreOnPostgres_RendersWithStatus200()
    {
        // Arrange: a store whose calls complete asynchronously (SQLite's complete at once), so every page renders once
        // before its data has arrived
        var dsn = await engines.NewDsnAsync(GatewayStores.Postgres);
        await using var gateway = await StartAsync(dsn, portal: true);
        await using var upstream = await TestUpstream.StartAsync();
        var backend = await gateway.AddUpstreamAsync("backend", upstream.Url);
        var route = await gateway.AddRouteAsync(new RouteInput { Name = "items", Path = "/items/*", Upstream = "backend", AuthRequired = true });
        var token = (await new AdminTokenService(gateway.Store, TimeProvider.System).CreateAsync("pages", CancellationToken.None)).Value!.Token;
        using var console = new ConsoleHttp(gateway.Url);
        await console.SignInAsync(token);
        Assert.True((await gateway.Service<PortalAccountService>().SignUpAsync("pages@customer.example", Password, gateway.Url, "127.0.0.1", CancellationToken.None)).Ok);
        using var customer = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, CookieContainer = new CookieContainer() });
        using var login = await FormPosts.PostAsync(customer, gateway.Url + "/portal/login", "login", ("Email", "pages@customer.example"), ("Password", Password));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        string[] consolePages =
        [
            "/ui", "/ui/login", "/ui/audit", "/ui/entitlements", "/ui/keys", "/ui/logout", "/ui/plans", "/ui/routes", "/ui/routes/new", $"/ui/routes/{route.Id}/edit",
            "/ui/settings", "/ui/upstreams", "/ui/upstreams/new", $"/ui/upstreams/{backend.Id}/edit", "/ui/usage", "/ui/users", "/ui/webhooks",
        ];
        string[] portalPages = ["/portal", "/portal/account", "/portal/keys", "/portal/plans", "/portal/reference", "/portal/logout", "/portal/forgot", "/portal/signup",
            "/portal/login", "/portal/reset?token=unknown", "/portal/verify?token=unknown"];

        // Act
        var statuses = new List<string>();
        foreach (var path in consolePages)
        {
            using var response = await console.GetAsync(path);
            statuses.Add($"{path} {(int)response.StatusCode}");
        }

        foreach (var path in portalPages)
        {
            using var response = await customer.GetAsync(gateway.Url + path);
            statuses.Add($"{path} {(int)response.StatusCode}");
        }

        // Assert
        Assert.Equal(string.Join("\n", consolePages.Concat(portalPages).Select(p => p + " 200")), string.Join("\n", statuses));
    }

    [PostgresFact]
    public async Task SignedInPages_PostgresStoppedThenStarted_503PageMeanwhileThenTheSameSessionsWork()
    {
        // Arrange: a server of its own (this test stops it); signed in to the console and the portal
        await using var server = await PostgresServer.StartAsync();
        var dsn = await server.CreateDatabaseAsync();
        await using var gateway = await StartAsync(dsn, portal: true);
        var token = (await new AdminTokenService(gateway.Store, TimeProvider.System).CreateAsync("outage", CancellationToken.None)).Value!.Token;
        using var console = new ConsoleHttp(gateway.Url);
        await console.SignInAsync(token);
        Assert.True((await gateway.Service<PortalAccountService>().SignUpAsync("outage@customer.example", Password, gateway.Url, "127.0.0.1", CancellationToken.None)).Ok);
        using var customer = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, CookieContainer = new CookieContainer() });
        using var login = await FormPosts.PostAsync(customer, gateway.Url + "/portal/login", "login", ("Email", "outage@customer.example"), ("Password", Password));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);

        // Act
        await server.StopServerAsync();
        using var consoleDown = await console.GetAsync("/ui/routes");
        using var portalDown = await customer.GetAsync(gateway.Url + "/portal/keys");
        var consolePage = await consoleDown.Content.ReadAsStringAsync();
        var portalPage = await portalDown.Content.ReadAsStringAsync();
        await server.StartServerAsync();
        // A pooled connection from before the restart may fail once more; the pages come back within a few tries.
        var consoleBack = await EventuallyOkAsync(() => console.GetAsync("/ui/routes"));
        var portalBack = await EventuallyOkAsync(() => customer.GetAsync(gateway.Url + "/portal/keys"));

        // Assert
        Assert.Equal(HttpStatusCode.ServiceUnavailable, consoleDown.StatusCode);
        Assert.Contains("The store is not reachable right now.", consolePage, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, portalDown.StatusCode);
        Assert.Contains("The service is briefly unavailable.", portalPage, StringComparison.Ordinal);
        Assert.DoesNotContain("Npgsql", portalPage, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, consoleBack);
        Assert.Equal(HttpStatusCode.OK, portalBack);
    }

    private static async Task<HttpStatusCode> EventuallyOkAsync(Func<Task<HttpResponseMessage>> send)
    {
        var status = HttpStatusCode.ServiceUnavailable;
        for (var attempt = 0; attempt < 20 && status != HttpStatusCode.OK; attempt++)
        {
            using var response = await send();
            status = response.StatusCode;
            if (status != HttpStatusCode.OK)
            {
                await Task.Delay(100);
            }
        }

        return status;
    }

    [Theory]
    [InlineData("/ui/login")]
    [InlineData("/portal/login")]
    public async Task LoginForm_MalformedOrOversizedPosts_ClientErrorNotServerError(string path)
    {
        // Arrange
        await using var gateway = await TestGateway.StartAsync(o => o.PortalEnabled = true);
        using var client = TestGateway.CreateClient();
        var tooManyFields = string.Join("&", Enumerable.Range(0, 5000).Select(i => $"f{i}=x"));

        // Act
        using var fields = await client.PostAsync(gateway.Url + path, new StringContent(tooManyFields, System.Text.Encoding.ASCII, "application/x-www-form-urlencoded"));
        using var multipart = new StringContent("--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nunterminated");
        multipart.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("multipart/form-data; boundary=x");
        using var truncated = await client.PostAsync(gateway.Url + path, multipart);

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, fields.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, truncated.StatusCode);
    }

    [Fact]
    public async Task Start_StoredFormsKeyWrittenUnderAnotherSecret_StartRefusedNamingTheTableAndTheRemedy()
    {
        // Arrange: a store whose forms key was encrypted with a secret this instance lacks
        var directory = await StoreWithFormsKeyAsync("<key />", writtenWithSecret: "the key it was written with");

        // Act
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => TestGateway.StartAsync(directory: directory));

        // Assert
        Assert.Contains(
            "set APIGATE_SECRET_KEY to the key it was written with (the console's and portal's forms key, table web_keys); or, to replace that key, stop every instance, delete the row",
            error.Message,
            StringComparison.Ordinal);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(directory, recursive: true);
    }

    [Theory]
    [InlineData("<garbage />")]
    [InlineData("not xml at all <")]
    public async Task FirstPage_StoredFormsKeyNotAKey_503AndTheLogNamesTheTableAndTheRemedy_ProxyUnaffected(string storedXml)
    {
        // Arrange: the key is read when the first page is served, not at start
        var directory = await StoreWithFormsKeyAsync(storedXml, writtenWithSecret: null);
        var log = new RecordingLogger<ApiGate.Web.Shared.WebPagesContainer>();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var gateway = await TestGateway.StartAsync(o => o.PortalEnabled = true, directory: directory, timeProvider: clock, services: s => s.AddSingleton<Microsoft.Extensions.Logging.ILogger<ApiGate.Web.Shared.WebPagesContainer>>(log));
        using var client = TestGateway.CreateClient();

        // Act: a page, another at once (the failure remembered), and one after the retry interval (tried again)
        using var first = await client.GetAsync(gateway.Url + "/ui/login");
        var logsAfterFirst = log.Count(7102);
        using var second = await client.GetAsync(gateway.Url + "/portal/login");
        var logsAfterSecond = log.Count(7102);
        using var ready = await client.GetAsync(gateway.Url + "/health/ready");
        clock.Advance(ApiGate.Web.Shared.WebPagesContainer.RetryAfter + TimeSpan.FromSeconds(1));
        using var third = await client.GetAsync(gateway.Url + "/ui/login");

        // Assert: every page answers 503 with a page that points at the log, which says what to do; nothing else stops
        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);
        Assert.Contains("pages-unavailable", await first.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("5", first.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, third.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal((1, 1, 2), (logsAfterFirst, logsAfterSecond, log.Count(7102)));
        Assert.All(log.Messages, message => Assert.Contains(
            "table web_keys) is not a usable key; stop every instance, delete that row, and start them again", message, StringComparison.Ordinal));
        Assert.Equal(storedXml, await gateway.Store.GetWebKeyAsync(CancellationToken.None));
    }

    [Fact]
    public async Task FirstPages_ManyAtOnceOnBothBranches_OneStartAndEveryPageServed()
    {
        // Arrange
        await using var gateway = await TestGateway.StartAsync(o => o.PortalEnabled = true);
        using var client = TestGateway.CreateClient();

        // Act: 40 first requests at once, half to the console, half to the portal
        var pages = await Task.WhenAll(Enumerable.Range(0, 40).Select(async i =>
        {
            using var response = await client.GetAsync(gateway.Url + (i % 2 == 0 ? "/ui/login" : "/portal/login"));
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }));

        // Assert: every page rendered its form, from one container built once
        Assert.All(pages, page => Assert.Equal(HttpStatusCode.OK, page.StatusCode));
        Assert.All(pages, page => Assert.Contains("__RequestVerificationToken", page.Body, StringComparison.Ordinal));
        Assert.Equal(1, gateway.Service<ApiGate.Web.Shared.WebPagesContainer>().Builds);
    }

    [Fact]
    public async Task FirstPage_StoreUnreachable_503AndTheLogGivesTheStoresReasonNotTheKeysRemedy()
    {
        // Arrange: the store's file is gone before any page was served (fresh connections fail)
        var log = new RecordingLogger<ApiGate.Web.Shared.WebPagesContainer>();
        await using var gateway = await TestGateway.StartAsync(services: s => s.AddSingleton<Microsoft.Extensions.Logging.ILogger<ApiGate.Web.Shared.WebPagesContainer>>(log));
        using var client = TestGateway.CreateClient();
        File.Delete(gateway.DatabasePath);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();

        // Act
        using var page = await client.GetAsync(gateway.Url + "/ui/login");

        // Assert: an outage is not the key's fault, so the log must not tell the operator to delete the key
        Assert.Equal(HttpStatusCode.ServiceUnavailable, page.StatusCode);
        var message = Assert.Single(log.Messages);
        Assert.Contains($"cannot open the store at {gateway.DatabasePath}", message, StringComparison.Ordinal);
        Assert.DoesNotContain("web_keys", message, StringComparison.Ordinal);
        Assert.DoesNotContain("delete the row", message, StringComparison.Ordinal);
    }

    private static async Task<string> StoreWithFormsKeyAsync(string storedXml, string? writtenWithSecret)
    {
        var directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        await using var store = GatewayStores.Create(GatewayStores.Sqlite, Path.Combine(directory, "apigate.db"), new ApiGate.Storage.Secrets.SecretProtector(writtenWithSecret));
        await store.InitializeAsync(CancellationToken.None);
        await store.AddWebKeyAsync(storedXml, DateTimeOffset.UtcNow, CancellationToken.None);
        return directory;
    }

    [Fact]
    public async Task Console_GatewayRestartedOnTheSameSqliteFile_SessionAndOpenFormStillAccepted()
    {
        // Arrange: signed in, a form open in the browser
        var first = await TestGateway.StartAsync();
        var token = (await new AdminTokenService(first.Store, TimeProvider.System).CreateAsync("restart", CancellationToken.None)).Value!.Token;
        using var browser = new ConsoleHttp(first.Url);
        await browser.SignInAsync(token);
        var openForm = await browser.TokenFromAsync("/ui/routes/new");

        // Act: the gateway restarts (new process state, same store), the browser carries on
        await first.StopAsync();
        await using var second = await TestGateway.StartAsync(directory: first.Directory);
        browser.BaseUrl = second.Url;
        using var page = await browser.GetAsync("/ui");
        using var created = await browser.PostAsync("/ui/routes/new",
            [new("_handler", "route"), new("name", "after-restart"), new("path", "/after/*"), new("enabled", "true"), new("__RequestVerificationToken", openForm)]);

        // Assert
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal(HttpStatusCode.Found, created.StatusCode);
        Assert.Equal("after-restart", Assert.Single(await second.Routes.ListAsync(CancellationToken.None)).Name);
    }

    private static async Task<HttpResponseMessage> SendAdminAsync(HttpClient client, string url, string? token, string json)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json") };
        if (token is not null)
        {
            request.Headers.Add("Authorization", "Bearer " + token);
        }

        return await client.SendAsync(request);
    }

    private static Task<TestGateway> StartAsync(string dsn, bool portal = false, TimeProvider? clock = null) => TestGateway.StartAsync(o =>
    {
        o.DatabaseDriver = GatewayStores.Postgres;
        o.DatabaseDsn = dsn;
        o.PortalEnabled = portal;
        o.PortalRequireVerification = false;
    }, timeProvider: clock);
}
