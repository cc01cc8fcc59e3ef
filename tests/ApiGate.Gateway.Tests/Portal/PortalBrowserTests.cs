using System.Net;
using System.Text.RegularExpressions;
using ApiGate.Core.Management;
using ApiGate.Core.Portal;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>The portal in headless Chromium, with its emails read from a real SMTP server.</summary>
public sealed class PortalBrowserTests : PortalTestBase
{
    [BrowserFact]
    public async Task SignUp_VerifyLoginCreateKeyCallRevoke_UsageShownAndKeyRefusedAfter()
    {
        // Arrange
        const string email = "dev@customer.example";
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;

        // Act + Assert: sign up
        await browser.GoAsync("/portal/signup");
        await Assertions.Expect(page.Locator("#app-name")).ToHaveTextAsync("Acme API");
        await browser.ScreenshotAsync("portal-signup");
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", Password);
        await page.ClickAsync("#sign-up");
        await Assertions.Expect(page.Locator("#message-ok")).ToHaveTextAsync($"We sent a link to {email}. Follow it within 24 hours to confirm your address, then log in.");

        // the verification email, through SMTP, and its link
        var message = await Smtp.NextToAsync(email);
        Assert.Equal("Acme API: confirm your email address", message.Subject);
        var link = TestSmtpServer.LinkIn(message, "/portal/verify");
        Assert.StartsWith(Gateway.Url + "/portal/verify?token=", link);
        await browser.GoAsync(link);
        await page.ClickAsync("#confirm");
        await Assertions.Expect(page.Locator("#message-ok")).ToHaveTextAsync("Your email address is confirmed. You can log in now.");

        // log in: the dashboard, on the default plan, no usage yet
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", Password);
        await page.ClickAsync("#log-in");
        await BrowserPage.ArrivedAtAsync(page, "/portal");
        await Assertions.Expect(page.Locator("#plan-name")).ToHaveTextAsync("Free");
        await Assertions.Expect(page.Locator("#chart-empty")).ToBeVisibleAsync();

        // create a key: shown once, with a copy button
        await browser.GoAsync("/portal/keys");
        await Assertions.Expect(page.Locator("#keys-empty")).ToBeVisibleAsync();
        await page.FillAsync("#key-name", "ci server");
        await page.ClickAsync("#create-key");
        var key = (await page.Locator("#new-key").TextContentAsync())!.Trim();
        Assert.Matches("^ak_[0-9a-f]{64}$", key);
        await Assertions.Expect(page.Locator("#copy-key")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator($"tr[data-key='{key[..12]}']")).ToContainTextAsync("ci server");
        await browser.ScreenshotAsync("portal-keys");

        // call the API through the gateway with it
        await Gateway.ReloadAsync();
        using var call = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/api/orders");
        call.Headers.Add("X-API-Key", key);
        var accepted = await Gateway.Client.SendAsync(call);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);

        // usage on the dashboard (written in the background: bounded wait)
        var shown = "";
        for (var i = 0; i < 40 && shown != "1"; i++)
        {
            await browser.GoAsync("/portal");
            shown = (await page.Locator("#month-requests").TextContentAsync())!.Trim();
            if (shown != "1")
            {
                await Task.Delay(250);
            }
        }

        Assert.Equal("1", shown);
        await Assertions.Expect(page.Locator("#quota-text")).ToContainTextAsync("1 of 1,000 used");
        await Assertions.Expect(page.Locator("#today-requests")).ToHaveTextAsync("today: 1");
        await Assertions.Expect(page.Locator("#top-routes")).ToContainTextAsync("Orders");
        await browser.ScreenshotAsync("portal-dashboard");

        // revoke, confirming the dialog
        await browser.GoAsync("/portal/keys");
        string? confirm = null;
        page.Dialog += async (_, dialog) =>
        {
            confirm = dialog.Message;
            await dialog.AcceptAsync();
        };
        await page.ClickAsync($"tr[data-key='{key[..12]}'] button");
        await Assertions.Expect(page.Locator("#message-ok")).ToHaveTextAsync($"Key {key[..12]}… is revoked: requests with it are refused from now on.");
        Assert.StartsWith($"Revoke {key[..12]}… (ci server)?", confirm);
        await Assertions.Expect(page.Locator($"tr[data-key='{key[..12]}']")).ToContainTextAsync("revoked");

        // refused from now on
        await Gateway.ReloadAsync();
        using var again = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/api/orders");
        again.Headers.Add("X-API-Key", key);
        var refused = await Gateway.Client.SendAsync(again);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [BrowserFact]
    public async Task PasswordReset_LinkFromEmail_NewPasswordLogsInOldDoesNot()
    {
        // Arrange
        const string email = "forgetful@customer.example";
        await SignedUpAndVerifiedAsync(email);
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;

        // Act
        await browser.GoAsync("/portal/login");
        await page.ClickAsync("#forgot-link");
        await page.FillAsync("#email", email);
        await page.ClickAsync("#send-link");
        await Assertions.Expect(page.Locator("#message-ok")).ToHaveTextAsync($"If {email} has an account, we sent it a link to reset the password. It works for one hour.");
        var link = TestSmtpServer.LinkIn(await Smtp.NextToAsync(email), "/portal/reset");
        await browser.GoAsync(link);
        await browser.ScreenshotAsync("portal-reset");
        await page.FillAsync("#password", "a brand new password");
        await page.ClickAsync("#set-password");
        await Assertions.Expect(page.Locator("#message-ok")).ToHaveTextAsync("Your password is changed. Log in with the new one.");
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", Password);
        await page.ClickAsync("#log-in");
        var oldRefused = await page.Locator("#message-error").TextContentAsync();
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", "a brand new password");
        await page.ClickAsync("#log-in");
        await BrowserPage.ArrivedAtAsync(page, "/portal");

        // Assert
        Assert.Equal(PortalAccountService.LoginFailed, oldRefused);
        await Assertions.Expect(page.Locator("#signed-in-as")).ToHaveTextAsync(email);
    }

    [BrowserFact]
    public async Task Reset_PasswordTooShort_MessageShownAndOnlyThePasswordFieldMarked()
    {
        // Arrange: a reset link from the email
        const string email = "hasty@customer.example";
        await SignedUpAndVerifiedAsync(email);
        Assert.True((await Gateway.Service<PortalAccountService>().RequestResetAsync(email, Gateway.Url, "127.0.0.1", CancellationToken.None)).Ok);
        var link = TestSmtpServer.LinkIn(await Smtp.NextToAsync(email), "/portal/reset");
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;
        await browser.GoAsync(link);

        // Act: a password the browser's own check would stop is sent past it, as an older browser sends it
        await page.FillAsync("#password", "short");
        await page.EvaluateAsync("document.getElementById('password').removeAttribute('minlength')");
        await page.ClickAsync("#set-password");

        // Assert
        await Assertions.Expect(page.Locator("#message-error")).ToHaveTextAsync("Password must be at least 10 characters.");
        await Assertions.Expect(page.Locator("#password")).ToHaveAttributeAsync("aria-invalid", "true");
        await Assertions.Expect(page.Locator(".ag-invalid #password")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator(".ag-invalid")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("[aria-invalid='true']")).ToHaveCountAsync(1);
        await browser.ScreenshotAsync("portal-reset-refused");
    }

    [BrowserFact]
    public async Task Links_ReusedOrExpired_RefusedWithMessage()
    {
        // Arrange: a used verification link, and a reset link already past its hour
        const string email = "links@customer.example";
        var verifyLink = await SignedUpAndVerifiedAsync(email);
        var user = (await Gateway.Store.FindUserAsync(email, CancellationToken.None))!;
        var token = OneTimeTokens.Generate();
        await Gateway.Store.CreatePortalTokenAsync(new PortalToken
        {
            Id = Core.Text.Ids.New("ptk"),
            UserId = user.Id,
            Purpose = PortalTokenPurpose.Reset,
            Hash = OneTimeTokens.Hash(token),
            CreatedAt = DateTimeOffset.UtcNow.AddHours(-2),
            ExpiresAt = DateTimeOffset.UtcNow.AddHours(-1),
        }, CancellationToken.None);
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;

        // Act
        await browser.GoAsync(verifyLink);
        await page.ClickAsync("#confirm");
        var reused = await page.Locator("#message-error").TextContentAsync();
        await browser.GoAsync("/portal/reset?token=" + token);
        await page.FillAsync("#password", "a brand new password");
        await page.ClickAsync("#set-password");
        var expired = await page.Locator("#message-error").TextContentAsync();
        await browser.ScreenshotAsync("portal-link-expired");

        // Assert
        Assert.Equal(PortalAccountService.LinkUnusable, reused);
        Assert.Equal(PortalAccountService.LinkUnusable, expired);
        var account = await Gateway.Store.FindPortalAccountAsync(user.Id, CancellationToken.None);
        Assert.True(PortalPasswords.Verify(account!.PasswordHash, Password, out _));
    }

    [BrowserFact]
    public async Task Login_FiveWrongPasswords_SixthRefusedEvenWithTheRightOne()
    {
        // Arrange
        const string email = "target@customer.example";
        await SignedUpAndVerifiedAsync(email);
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;
        await browser.GoAsync("/portal/login");
        for (var i = 0; i < 5; i++)
        {
            await page.FillAsync("#email", email);
            await page.FillAsync("#password", "wrong guess " + i);
            await page.ClickAsync("#log-in");
            await Assertions.Expect(page.Locator("#message-error")).ToHaveTextAsync(PortalAccountService.LoginFailed);
        }

        // Act
        await page.FillAsync("#email", email);
        await page.FillAsync("#password", Password);
        await page.ClickAsync("#log-in");

        // Assert
        await Assertions.Expect(page.Locator("#message-error")).ToHaveTextAsync("Too many login attempts. Try again in 15 minute(s).");
        Assert.Contains("/portal/login", page.Url);
        Assert.DoesNotContain(await browser.Context.CookiesAsync(), c => c.Name == "apigate_portal_session");
    }

    [BrowserFact]
    public async Task Pages_SignedIn_PlansReferenceAccountShowTheirContent()
    {
        // Arrange
        const string email = "tour@customer.example";
        await SignedUpAndVerifiedAsync(email);
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;
        await LogInAsync(browser, email);

        // Act + Assert
        await browser.GoAsync("/portal/plans");
        await Assertions.Expect(page.Locator("[data-plan='free']")).ToContainTextAsync("current");
        await Assertions.Expect(page.Locator("[data-plan='pro']")).ToContainTextAsync("49.00");
        await Assertions.Expect(page.Locator("[data-plan='pro']")).ToContainTextAsync("Contact the operator to move to this plan.");
        await browser.ScreenshotAsync("portal-plans");
        await browser.GoAsync("/portal/reference");
        await Assertions.Expect(page.Locator("#curl-orders")).ToHaveTextAsync($"curl -X GET -H 'X-API-Key: ak_…' '{Gateway.Url}/api/example'");
        await browser.ScreenshotAsync("portal-reference");
        await browser.GoAsync("/portal/account");
        await Assertions.Expect(page.Locator("#account-email")).ToHaveTextAsync(email);
        await page.FillAsync("#current", Password);
        await page.FillAsync("#new-password", "short");
        await page.EvaluateAsync("document.getElementById('new-password').removeAttribute('minlength')");
        await page.ClickAsync("#change-password");
        await Assertions.Expect(page.Locator("#message-error")).ToHaveTextAsync("Password must be at least 10 characters.");
        await Assertions.Expect(page.Locator("#new-password")).ToHaveAttributeAsync("aria-invalid", "true"); // the field at fault, not the other
        await Assertions.Expect(page.Locator("#current")).ToHaveAttributeAsync("aria-invalid", "false");
        await browser.ScreenshotAsync("portal-account");

        // a real change: the page comes back under the new session, and its forms work there
        await page.FillAsync("#current", Password);
        await page.FillAsync("#new-password", "a new horse battery");
        await page.ClickAsync("#change-password");
        await BrowserPage.ArrivedAtAsync(page, "/portal/account?changed=1");
        await Assertions.Expect(page.Locator("#message-ok")).ToHaveTextAsync("Your password is changed.");
        await browser.ScreenshotAsync("portal-account-changed");
        await page.ClickAsync("#logout");
        await BrowserPage.ArrivedAtAsync(page, "/portal/login?logged_out=1");
    }

    [BrowserFact]
    public async Task SignUp_RefusedForWantOfABaseUrl_NoFieldMarkedWhileABadAddressMarksTheEmailField()
    {
        // Arrange: no APIGATE_PORTAL_BASE_URL, and the page reached by a name that is not a loopback address (Chromium
        // takes every *.localhost name to this machine itself; the gateway sees only the name in Host)
        await using var named = await BrowserHost.OpenAsync(new UriBuilder(Gateway.Url) { Host = "portal.localhost" }.Uri.ToString());
        await using var local = await BrowserHost.OpenAsync(Gateway.Url);
        await named.GoAsync("/portal/signup");
        await local.GoAsync("/portal/signup");

        // Act: a well-formed sign-up the portal cannot mail a link for; an address the browser lets through and the portal does not
        await named.Page.FillAsync("#email", "nolink@customer.example");
        await named.Page.FillAsync("#password", Password);
        await named.Page.ClickAsync("#sign-up");
        await local.Page.FillAsync("#email", "a@b");
        await local.Page.FillAsync("#password", Password);
        await local.Page.ClickAsync("#sign-up");

        // Assert
        await Assertions.Expect(named.Page.Locator("#message-error")).ToHaveTextAsync(PortalAccountService.CannotMakeLinks);
        await Assertions.Expect(named.Page.Locator("[aria-invalid='true']")).ToHaveCountAsync(0);
        await Assertions.Expect(named.Page.Locator(".ag-invalid")).ToHaveCountAsync(0);
        await named.ScreenshotAsync("portal-signup-no-links");
        await Assertions.Expect(local.Page.Locator("#message-error")).ToHaveTextAsync("'a@b' is not an email address.");
        await Assertions.Expect(local.Page.Locator("#email")).ToHaveAttributeAsync("aria-invalid", "true");
        await Assertions.Expect(local.Page.Locator("#password")).ToHaveAttributeAsync("aria-invalid", "false");
        await Assertions.Expect(local.Page.Locator(".ag-invalid #email")).ToHaveCountAsync(1);
        await Assertions.Expect(local.Page.Locator(".ag-invalid")).ToHaveCountAsync(1);
        Assert.Empty(await Gateway.Store.ListUsersAsync(CancellationToken.None));
    }

    [BrowserFact]
    public async Task Dashboard_ByteMeteredRouteCalled_UnitsShownBesideRequestsAgainstTheQuota()
    {
        // Arrange: a byte-metered route (a 20 KiB answer costs 20 units) beside the plain one; three exports and two
        // orders: 5 requests, 62 units, on the free plan's 1,000
        const string email = "exports@customer.example";
        await Gateway.AddRouteAsync(new RouteInput { Name = "Exports", Path = "/exports/*", Upstream = "backend", AuthRequired = true, Methods = "GET", MeteringMode = "bytes" });
        var key = await CustomerKeyAsync(email);
        foreach (var path in new[] { "/exports/download?bytes=20480", "/exports/download?bytes=20480", "/exports/download?bytes=20480", "/api/orders", "/api/orders" })
        {
            await CallAsync(key, path);
        }

        await UsageWrittenAsync(email, requests: 5, units: 62);
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;
        await LogInAsync(browser, email);

        // Act
        await browser.GoAsync("/portal");

        // Assert
        await Assertions.Expect(page.Locator("#month-requests")).ToHaveTextAsync("5");
        await Assertions.Expect(page.Locator("#month-units")).ToHaveTextAsync("62");
        await Assertions.Expect(page.Locator("#quota-text")).ToHaveTextAsync(new Regex(@"^62 of 1,000 units used \(6\.2%\) · 938 left · resets \d{1,2} [A-Z][a-z]{2}$"));
        await Assertions.Expect(page.Locator(".ag-quota")).ToHaveAttributeAsync("aria-valuenow", "62");
        await Assertions.Expect(page.Locator("#units-chart svg")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#today-units")).ToHaveTextAsync("today: 62 units");
        await Assertions.Expect(page.Locator("#today-requests")).ToHaveTextAsync("today: 5");
        await Assertions.Expect(page.Locator("#top-routes thead th")).ToHaveTextAsync(["Route", "Units", "Requests"]);
        await Assertions.Expect(page.Locator("#top-routes tbody td")).ToHaveTextAsync(["Exports", "60", "3", "Orders", "2", "2"]);
        await browser.ScreenshotAsync("portal-dashboard-units");
    }

    [BrowserFact]
    public async Task Dashboard_AfterCalls_ChartLabelsReadableAt1280And390AndApart()
    {
        // Arrange: a byte-metered call beside a plain one, so both daily charts are drawn
        const string email = "charts@customer.example";
        await Gateway.AddRouteAsync(new RouteInput { Name = "Exports", Path = "/exports/*", Upstream = "backend", AuthRequired = true, Methods = "GET", MeteringMode = "bytes" });
        var key = await CustomerKeyAsync(email);
        await CallAsync(key, "/exports/download?bytes=20480");
        await CallAsync(key, "/api/orders");
        await UsageWrittenAsync(email, requests: 2, units: 21);
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;
        await LogInAsync(browser, email);
        var problems = new List<string>();

        // Act: the dashboard at a desktop's width (labels of 11 px at least) and a phone's (9 px at least)
        foreach (var (width, minimum) in new[] { (1280, 11.0), (390, 9.0) })
        {
            await page.SetViewportSizeAsync(width, 800);
            Assert.Equal(200, await browser.GoAsync("/portal"));
            var (charts, found) = await browser.ChartLabelProblemsAsync($"portal dashboard at {width} px", minimum);
            Assert.Equal(["Units per day, last 30 days: labels", "Requests per day, last 30 days: labels"], charts);
            problems.AddRange(found);
            // The "today" line under each chart: at least the space a table under a chart leaves (it touched the labels)
            foreach (var (chart, today) in new[] { ("units-chart", "today-units"), ("daily-chart", "today-requests") })
            {
                var gap = await page.EvaluateAsync<double>(
                    "([chart, today]) => document.getElementById(today).getBoundingClientRect().top - Math.max(...[...document.querySelectorAll('#' + chart + ' svg text')].map(t => t.getBoundingClientRect().bottom))",
                    new[] { chart, today });
                if (gap < 6)
                {
                    problems.Add($"at {width} px the line #{today} starts {gap:0.#} px below the chart's labels");
                }
            }
        }

        // Assert
        Assert.True(problems.Count == 0, string.Join(Environment.NewLine, problems));
    }

    [BrowserFact]
    public async Task Dashboard_EveryRouteOneUnitPerRequest_NoUnitsBesideTheRequests()
    {
        // Arrange: only the plain route (one unit per request), called twice
        const string email = "plain@customer.example";
        var key = await CustomerKeyAsync(email);
        await CallAsync(key, "/api/orders");
        await CallAsync(key, "/api/orders");
        await UsageWrittenAsync(email, requests: 2, units: 2);
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;
        await LogInAsync(browser, email);

        // Act
        await browser.GoAsync("/portal");

        // Assert: the quota's numbers are the requests; no units card, chart or column
        await Assertions.Expect(page.Locator("#month-requests")).ToHaveTextAsync("2");
        await Assertions.Expect(page.Locator("#quota-text")).ToHaveTextAsync(new Regex(@"^2 of 1,000 used \(0\.2%\) · 998 left · resets \d{1,2} [A-Z][a-z]{2}$"));
        await Assertions.Expect(page.Locator("#today-requests")).ToHaveTextAsync("today: 2");
        await Assertions.Expect(page.Locator("#top-routes thead th")).ToHaveTextAsync(["Route", "Requests"]);
        await Assertions.Expect(page.Locator("#top-routes tbody td")).ToHaveTextAsync(["Orders", "2"]);
        await Assertions.Expect(page.Locator("#month-units")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("#units-chart")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("#today-units")).ToHaveCountAsync(0);
        Assert.DoesNotContain("unit", await page.Locator("main").InnerTextAsync(), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>A confirmed customer with a key made in the portal, loaded by the gateway; returns the key.</summary>
    private async Task<string> CustomerKeyAsync(string email)
    {
        await SignedUpAndVerifiedAsync(email);
        var customer = (await Gateway.Store.FindUserAsync(email, CancellationToken.None))!;
        var (created, key) = await Gateway.Service<PortalKeyService>().CreateAsync(customer, "ci", null, CancellationToken.None);
        Assert.True(created.Ok, created.Message);
        await Gateway.ReloadAsync();
        return key!.FullKey;
    }

    private async Task CallAsync(string key, string path)
    {
        using var call = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + path);
        call.Headers.Add("X-API-Key", key);
        using var answer = await Gateway.Client.SendAsync(call);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
    }

    /// <summary>Waits until the usage writer has stored the calls: the month's rollups and the quota counter.</summary>
    private async Task UsageWrittenAsync(string email, long requests, long units)
    {
        var customer = (await Gateway.Store.FindUserAsync(email, CancellationToken.None))!;
        PortalDashboard? seen = null;
        await Poll.UntilAsync(async () =>
        {
            seen = await Gateway.Service<PortalUsage>().DashboardAsync(customer, CancellationToken.None);
            return seen.Month.Requests == requests && seen.Month.Units == units && seen.Month.QuotaUsed == units;
        }, () => $"usage stored: {seen?.Month}");
    }

    /// <summary>Signs up through the pages' service and follows the emailed link; returns the (now used) link.</summary>
    private async Task<string> SignedUpAndVerifiedAsync(string email)
    {
        var accounts = Gateway.Service<PortalAccountService>();
        Assert.True((await accounts.SignUpAsync(email, Password, Gateway.Url, "127.0.0.1", CancellationToken.None)).Ok);
        var link = TestSmtpServer.LinkIn(await Smtp.NextToAsync(email), "/portal/verify");
        Assert.True((await accounts.VerifyAsync(link[(link.IndexOf("token=", StringComparison.Ordinal) + 6)..], CancellationToken.None)).Ok);
        return link;
    }
}
