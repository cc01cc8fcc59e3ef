using System.Net;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The console's frame at a phone's and a desktop's width.</summary>
public sealed class ConsoleLayoutTests : AdminUiTestBase
{
    /// <summary>Every page of the console a signed-in operator can open without an id.</summary>
    private static readonly string[] Pages =
    [
        "/ui", "/ui/routes", "/ui/routes/new", "/ui/upstreams", "/ui/upstreams/new", "/ui/plans", "/ui/users", "/ui/keys",
        "/ui/entitlements", "/ui/usage", "/ui/webhooks", "/ui/settings", "/ui/audit",
    ];

    [BrowserFact]
    public async Task Phone_PageHasTheWholeWidthAndTheMenuButtonReachesThePages()
    {
        // Arrange
        await using var browser = await SignedInAsync(375, 800);
        var page = browser.Page;

        // Act: no drawer beside the page, "Log out" on the screen, the menu from the keyboard
        var users = await browser.AssertPhoneLayoutAndOpenMenuAsync("Users", "admin-ui-phone-menu");
        await users.ClickAsync();

        // Assert
        await BrowserPage.ArrivedAtAsync(page, "/ui/users");
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Users");
    }

    [BrowserFact]
    public async Task Phone_EveryPage_NothingWiderThanTheScreen()
    {
        // Arrange
        await using var browser = await SignedInAsync(375, 800);

        // Act
        var wider = await browser.PagesWiderThanAPhoneAsync(Pages);

        // Assert
        Assert.Empty(wider);
    }

    /// <summary>The menu's links in order, each with the page it opens and that page's heading.</summary>
    private static readonly (string Link, string Path, string Heading)[] MenuLinks =
    [
        ("Dashboard", "/ui", "Dashboard"), ("Routes", "/ui/routes", "Routes"), ("Upstreams", "/ui/upstreams", "Upstreams"),
        ("Plans", "/ui/plans", "Plans"), ("Users", "/ui/users", "Users"), ("API keys", "/ui/keys", "API keys"),
        ("Entitlements", "/ui/entitlements", "Entitlements"), ("Usage", "/ui/usage", "Usage"), ("Webhooks", "/ui/webhooks", "Webhooks"),
        ("Settings", "/ui/settings", "Settings"), ("Audit log", "/ui/audit", "Audit log"),
    ];

    [BrowserFact]
    public async Task Phone390_PagesWithRows_EveryMenuLinkReachesItsPageAndNoPageScrollsSideways()
    {
        // Arrange: a row in every list (a page with rows is wider than an empty one), a phone 390 px wide
        var (route, upstream) = await AddARowToEveryListAsync();
        await using var browser = await SignedInAsync(390, 844);
        var others = new[] { "/ui/routes/new", $"/ui/routes/{route}/edit", "/ui/upstreams/new", $"/ui/upstreams/{upstream}/edit", "/ui/usage?user=grace%40example.com", "/ui/keys?for=grace%40example.com" };

        // Act
        var problems = await browser.FollowEveryMenuLinkAsync("/ui", MenuLinks);
        problems.AddRange(await browser.PagesWiderThanTheWindowAsync(others));
        await browser.Page.SetViewportSizeAsync(768, 1024); // a tablet: the drawer beside the page
        problems.AddRange(await browser.PagesWiderThanTheWindowAsync(MenuLinks.Select(l => l.Path).Concat(others)));

        // Assert
        Assert.Empty(problems);
    }

    [BrowserFact]
    public async Task Phone390_WrappingCellsInAWideTable_KeepAtLeast8RemInsteadOfAFewLettersALine()
    {
        // Arrange: the settings table (a DSN without a space) and the audit log are wider than a phone and scroll; their
        // wrapping cells were squeezed to about 55 px, the DSN ten characters a line in a row 300 px high
        await Gateway.Store.ChangeStoredSettingsAsync([new("log.level", "debug")], DateTimeOffset.UtcNow, CancellationToken.None);
        await using var browser = await SignedInAsync(390, 844);
        var narrow = new List<string>();

        // Act
        foreach (var path in new[] { "/ui/settings", "/ui/audit" })
        {
            Assert.Equal(200, await browser.GoAsync(path));
            var widths = await browser.Page.EvaluateAsync<double[]>("() => [...document.querySelectorAll('.ag-table td.ag-wrap')].map(td => td.getBoundingClientRect().width)");
            Assert.NotEmpty(widths);
            narrow.AddRange(widths.Where(w => w < 128).Select(w => $"{path}: a wrapping cell {w:0.#} px wide"));
        }


        // Assert
        Assert.Empty(narrow);
    }

    [BrowserFact]
    public async Task Phone390_AppBar_ShowsTheTokenNameWhole()
    {
        // Arrange: "Signed in as ui-tests" did not fit beside the product name and Log out: the phone showed "Signed in …"
        await using var browser = await SignedInAsync(390, 844);
        var page = browser.Page;

        // Assert
        Assert.Equal(TokenName, await page.Locator("#signed-in-as").InnerTextAsync());
        Assert.True(await page.EvaluateAsync<bool>("(() => { const e = document.getElementById('signed-in-as'); return e.scrollWidth <= e.clientWidth; })()"), "the token's name is cut short");
    }

    [BrowserFact]
    public async Task RoutesTable_RoutesLikeTheDemos_FitsA1280PixelWindowWithTheDeleteButtonsOnScreen()
    {
        // Arrange: an expression rewrite, a {id} path with a method list, prefixes with templates: at 1280 px the table ran
        // wider than its card, the rewrite squeezed to a few characters a line and the Delete buttons cut off
        await Gateway.AddUpstreamAsync("demo-echo", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "demo-users", Path = "/demo-users/{id}", MatchType = "exact", Methods = "GET", Upstream = "demo-echo", PathRewrite = "'/users/' + pathParams.id", AuthRequired = false });
        await Gateway.AddRouteAsync(new RouteInput { Name = "demo", Path = "/demo/*", Upstream = "demo-echo", PathRewrite = "/echo/$1", AuthRequired = false });
        await Gateway.AddRouteAsync(new RouteInput { Name = "demo-api", Path = "/api/*", Upstream = "demo-echo", PathRewrite = "/echo/$1", AuthRequired = true });
        await using var browser = await SignedInAsync(1280, 800);
        var page = browser.Page;

        // Act
        Assert.Equal(200, await browser.GoAsync("/ui/routes"));
        var overflow = await page.EvaluateAsync<int>("() => { const t = document.querySelector('#routes-table .mud-table-container'); return t.scrollWidth - t.clientWidth; }");
        var rewriteLines = await page.EvaluateAsync<int>(
            "() => { const c = [...document.querySelectorAll('#routes-table td.ag-rewrite code')].find(e => e.textContent.includes('pathParams')); return Math.round(c.getBoundingClientRect().height / parseFloat(getComputedStyle(c).lineHeight)); }");
        await browser.ScreenshotAsync("admin-ui-routes-1280");

        // Assert
        Assert.True(overflow <= 0, $"the routes table is {overflow} px wider than its card");
        Assert.InRange(rewriteLines, 1, 2);
        foreach (var button in await page.Locator("#routes-table button[type=submit]").AllAsync())
        {
            await Assertions.Expect(button).ToBeInViewportAsync();
        }
    }

    [BrowserFact]
    public async Task WebhooksTable_EndpointWithTwoEvents_FitsA1280PixelWindowWithTheDeleteButtonOnScreen()
    {
        // Arrange: an address of 45 characters and two events, each kept on one line: the table ran 29 px past its card
        // at 1280 px and cut Delete off (narrower, on a tablet or a phone, the table scrolls sideways in its card)
        Assert.True((await Gateway.Service<WebhookService>().CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/hooks/for-a-rather-long-path", Events = ["key.created", "user.created"] }, CancellationToken.None)).Ok);
        await using var browser = await SignedInAsync(1280, 800);
        var page = browser.Page;

        // Act
        Assert.Equal(200, await browser.GoAsync("/ui/webhooks"));
        var overflow = await page.EvaluateAsync<int>("() => { const t = document.querySelector('#webhooks-table .mud-table-container'); return t.scrollWidth - t.clientWidth; }");

        // Assert
        Assert.True(overflow <= 0, $"the webhooks table is {overflow} px wider than its card");
        await Assertions.Expect(page.Locator("#webhooks-table button[aria-label^='Delete endpoint']")).ToBeInViewportAsync(new() { Ratio = 1 });
    }

    [BrowserFact]
    public async Task DeliveriesTable_AttemptWithALongError_ErrorWrapsAndRedeliverStaysOnA1280PixelScreen()
    {
        // Arrange: a failed test delivery whose attempt carries an error of the length a TLS failure's has, kept on one
        // line it ran the table past its card and pushed Redeliver off the screen
        var webhooks = Gateway.Service<WebhookService>();
        var endpoint = (await webhooks.CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["key.created"] }, CancellationToken.None)).Value!.Endpoint;
        Assert.True((await webhooks.TestAsync(endpoint.Id, CancellationToken.None)).Ok);
        await Poll.UntilAsync(async () => (await webhooks.DeliveriesAsync(endpoint.Id, 10, CancellationToken.None)).Value!.Single().Attempts.Count > 0, () => "no attempt recorded");
        const string error = "The SSL connection could not be established, see inner exception. The remote certificate is invalid because of "
                             + "errors in the certificate chain: UntrustedRoot, RevocationStatusUnknown, OfflineRevocation";
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Gateway.DatabasePath};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var update = connection.CreateCommand();
            update.CommandText = "UPDATE webhook_attempts SET error = $error";
            update.Parameters.AddWithValue("$error", error);
            Assert.Equal(1, await update.ExecuteNonQueryAsync());
        }

        await using var browser = await SignedInAsync(1280, 800);
        var page = browser.Page;

        // Act
        Assert.Equal(200, await browser.GoAsync("/ui/webhooks?deliveries=" + endpoint.Id));
        var overflow = await page.EvaluateAsync<int>("() => { const t = document.querySelector('#deliveries-table .mud-table-container'); return t.scrollWidth - t.clientWidth; }");

        // Assert
        await Assertions.Expect(page.Locator("#deliveries-table")).ToContainTextAsync(error);
        Assert.True(overflow <= 0, $"the deliveries table is {overflow} px wider than its card");
        await Assertions.Expect(page.Locator("#deliveries-table button", new() { HasText = "Redeliver" })).ToBeInViewportAsync(new() { Ratio = 1 });
    }

    [BrowserFact]
    public async Task LongNamesWithoutSpaces_EveryPageStaysOnScreenAndChartLabelsInTheirCards()
    {
        // Arrange: names of 100+ characters without a space, and traffic for the dashboard's charts
        var tail = new string('L', 110);
        var email = new string('x', 64) + "@" + new string('d', 63) + "." + new string('e', 63) + ".example";
        var upstream = await Gateway.AddUpstreamAsync("upstream" + tail, Upstream.Url);
        var route = await Gateway.AddRouteAsync(new RouteInput { Name = "route" + tail, Path = "/api/*", Upstream = upstream.Id, AuthRequired = true });
        var (key, _, _) = await Gateway.CreateKeyAsync(email, new PlanInput { Id = "long", Name = "Plan" + tail, RequestsPerMonth = 2, IsDefault = true });
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/api/item");
            request.Headers.Add("X-API-Key", key);
            using var response = await Gateway.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await using var browser = await SignedInAsync(1280, 800);
        var page = browser.Page;
        // Usage reaches the store in batches: reload until the near-quota table has the user (bounded).
        for (var attempt = 0; attempt < 50 && await page.Locator("#near-quota table").CountAsync() == 0; attempt++)
        {
            await Task.Delay(200);
            await browser.GoAsync("/ui");
        }

        await Assertions.Expect(page.Locator("#near-quota table")).ToContainTextAsync(email);
        var wider = new List<string>();

        // Act
        foreach (var width in new[] { 1280, 375 })
        {
            await page.SetViewportSizeAsync(width, 800);
            foreach (var path in new[] { "/ui", "/ui/upstreams", $"/ui/upstreams/{upstream.Id}/edit", "/ui/routes", $"/ui/routes/{route.Id}/edit", "/ui/plans", "/ui/users" })
            {
                Assert.Equal(200, await browser.GoAsync(path));
                var scrollWidth = await page.EvaluateAsync<int>("document.documentElement.scrollWidth");
                if (scrollWidth > width)
                {
                    wider.Add($"{path} at {width} px: {scrollWidth} px wide");
                }
            }

            await browser.GoAsync("/ui");
            foreach (var chart in new[] { "#chart-top-users", "#chart-top-routes", "#near-quota" })
            {
                var outside = await page.EvaluateAsync<int>(
                    "card => { const box = document.querySelector(card).getBoundingClientRect(); return [...document.querySelectorAll(card + ' svg text')].filter(t => { const r = t.getBoundingClientRect(); return r.width > 0 && (r.left < box.left || r.right > box.right); }).length; }",
                    chart);
                if (outside > 0)
                {
                    wider.Add($"{chart} at {width} px: {outside} labels outside the card");
                }
            }
        }

        // Assert
        Assert.Empty(wider);
        await Assertions.Expect(page.Locator("#chart-top-routes svg")).ToContainTextAsync("route" + new string('L', 18) + "…");
    }

    [BrowserFact]
    public async Task TenLongRouteNames_BarLabelsFitOnADesktopAndTheTableNamesThemOnAPhone()
    {
        // Arrange: as many routes as the chart shows (ten), names of 24 characters, route i with i + 1 requests
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        var names = Enumerable.Range(0, 10).Select(i => $"inventory-adjustments-{i:00}").ToArray();
        for (var i = 0; i < names.Length; i++)
        {
            await Gateway.AddRouteAsync(new RouteInput { Name = names[i], Path = $"/r{i}/*", Upstream = "backend" });
            for (var n = 0; n <= i; n++)
            {
                using var response = await Gateway.Client.GetAsync(Gateway.Url + $"/r{i}/x");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }

        await using var browser = await SignedInAsync(1280, 800);
        var page = browser.Page;
        var rows = page.Locator("#top-routes-table tbody tr");
        // Usage reaches the store in batches: reload until the ten routes are counted (bounded).
        for (var attempt = 0; attempt < 50 && (await rows.CountAsync() < 10 || (await rows.Last.TextContentAsync())?.Contains("inventory-adjustments-001", StringComparison.Ordinal) != true); attempt++)
        {
            await Task.Delay(200);
            await browser.GoAsync("/ui");
        }

        const string labels = "[...document.querySelectorAll('#chart-top-routes svg .mud-charts-xaxis text')].map(t => { const r = t.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })";

        // Act: the desktop's labels, then the phone's
        var desktop = await page.EvaluateAsync<double[][]>("() => " + labels);
        await browser.ScreenshotAsync("admin-ui-bar-labels-1280");
        await page.SetViewportSizeAsync(375, 800);
        await browser.GoAsync("/ui");
        var phone = await page.EvaluateAsync<double[][]>("() => " + labels);
        await browser.ScreenshotAsync("admin-ui-bar-labels-375");

        // Assert: ten labels side by side, none over its neighbour, each cut to its share of the plot ("inv…")
        Assert.Equal(10, desktop.Length);
        var overlaps = Enumerable.Range(0, 9).Where(i => desktop[i][2] > desktop[i + 1][0]).Select(i => $"label {i} ends at {desktop[i][2]:0.#}, label {i + 1} starts at {desktop[i + 1][0]:0.#}").ToList();
        Assert.Empty(overlaps);
        await Assertions.Expect(page.Locator("#chart-top-routes svg .mud-charts-xaxis text").First).ToHaveTextAsync("inv…");
        // on a phone the labels are not drawn (they would be a few pixels high); the table names the bars in their order
        Assert.All(phone, box => Assert.Equal(0, box[2] - box[0]));
        Assert.Equal(
            names.Reverse().Select((name, i) => $"{i + 1}{name}{10 - i}0"),
            await rows.AllTextContentsAsync());
        Assert.True(await page.EvaluateAsync<int>("document.documentElement.scrollWidth") <= 375, "the dashboard is wider than the phone");
    }

    [BrowserFact]
    public async Task EveryPage_TitleNamesThePage()
    {
        // Arrange
        var route = await Gateway.AddRouteAsync(new RouteInput { Name = "orders", Path = "/orders/*" });
        await using var browser = await BrowserHost.OpenAsync(ConsoleUrl);
        var page = browser.Page;
        await browser.GoAsync("/ui/login");
        await Assertions.Expect(page).ToHaveTitleAsync("Sign in · APIGate admin");
        await browser.Page.FillAsync("#token", Token);
        await browser.Page.ClickAsync("#sign-in");
        await BrowserPage.ArrivedAtAsync(browser.Page, "/ui");
        var expected = new Dictionary<string, string>
        {
            ["/ui"] = "Dashboard", ["/ui/routes"] = "Routes", ["/ui/routes/new"] = "New route", [$"/ui/routes/{route.Id}/edit"] = "Edit route orders",
            ["/ui/upstreams"] = "Upstreams", ["/ui/upstreams/new"] = "New upstream", ["/ui/plans"] = "Plans", ["/ui/users"] = "Users",
            ["/ui/keys"] = "API keys", ["/ui/entitlements"] = "Entitlements", ["/ui/usage"] = "Usage", ["/ui/webhooks"] = "Webhooks",
            ["/ui/settings"] = "Settings", ["/ui/audit"] = "Audit log",
        };
        var titles = new Dictionary<string, string>();

        // Act
        foreach (var path in expected.Keys)
        {
            Assert.Equal(200, await browser.GoAsync(path));
            titles[path] = await page.TitleAsync();
        }

        // Assert
        Assert.Equal(expected.ToDictionary(e => e.Key, e => e.Value + " · APIGate admin"), titles);
    }

    [BrowserFact]
    public async Task Desktop_DrawerBesideThePageAndNoMenuButton()
    {
        // Arrange
        await using var browser = await SignedInAsync(1280, 800);
        var page = browser.Page;

        // Assert
        await Assertions.Expect(page.Locator(".mud-drawer").GetByRole(AriaRole.Link, new() { Name = "Routes" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#nav-menu")).ToBeHiddenAsync();
        var main = await page.Locator("#main").BoundingBoxAsync();
        Assert.Equal(220, main!.X);
        Assert.Equal("Signed in as " + TokenName, await page.Locator("#signed-in-as").InnerTextAsync());
    }

    [BrowserFact]
    public async Task Desktop_TallPageScrolledAndCapturedWhole_DrawerRunsToTheBottom()
    {
        // Arrange: the settings page, several windows tall; the drawer is paper-white, the page around the cards grey
        await using var browser = await SignedInAsync(1440, 900);
        var page = browser.Page;
        Assert.Equal(200, await browser.GoAsync("/ui/settings"));
        var pageHeight = await page.EvaluateAsync<int>("document.documentElement.scrollHeight");
        Assert.True(pageHeight > 2 * 900, $"the settings page is {pageHeight} px high");

        // Act: the window scrolled to the bottom as a reader sees it, then the whole page as the docs' screenshots take it
        await page.EvaluateAsync("window.scrollTo(0, document.documentElement.scrollHeight)");
        var scrolled = Png.Decode(await page.ScreenshotAsync());
        var whole = Png.Decode(await browser.FullPageAsync());

        // Assert: the drawer's column is paper from below the links to the bottom edge, in the window and in the capture;
        // the window has its size back after the capture
        Assert.Equal(0, DarkerThanPaper(scrolled, 600));
        Assert.Equal(pageHeight, whole.Height);
        Assert.Equal(0, DarkerThanPaper(whole, 600));
        Assert.Equal(900, await page.EvaluateAsync<int>("window.innerHeight"));
    }

    /// <summary>The pixels of the drawer's column (10 px from the left) from <paramref name="top"/> to the image's bottom that are not white paper.</summary>
    private static int DarkerThanPaper(Png image, int top) => Enumerable.Range(top, image.Height - top).Count(y => image.Brightness(10, y) < 252);

    /// <summary>An upstream, routes like the demo's, a user with a key, an entitlement, a webhook endpoint and a stored setting; returns the route's and the upstream's ids.</summary>
    private async Task<(string Route, string Upstream)> AddARowToEveryListAsync()
    {
        var upstream = await Gateway.AddUpstreamAsync("demo-echo", Upstream.Url);
        var route = await Gateway.AddRouteAsync(new RouteInput { Name = "demo-users", Path = "/demo-users/{id}", MatchType = "exact", Methods = "GET", Upstream = "demo-echo", PathRewrite = "'/users/' + pathParams.id", AuthRequired = false });
        await Gateway.AddRouteAsync(new RouteInput { Name = "demo-api", Path = "/api/*", Upstream = "demo-echo", PathRewrite = "/echo/$1", AuthRequired = true });
        await Gateway.CreateKeyAsync("grace@example.com", new PlanInput { Id = "team", Name = "Team", RequestsPerMonth = 25, PriceMonthly = 2900, IsDefault = true });
        Assert.True((await Gateway.Entitlements.CreateAsync(new EntitlementChanges { Name = "max_projects", ValueType = EntitlementValueType.Number, DefaultValue = "1", HeaderName = "X-Max-Projects" }, CancellationToken.None)).Ok);
        Assert.True((await Gateway.Service<WebhookService>().CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/hooks/billing-events", Events = ["key.created", "user.created"] }, CancellationToken.None)).Ok);
        await Gateway.Store.ChangeStoredSettingsAsync([new("log.level", "debug")], DateTimeOffset.UtcNow, CancellationToken.None);
        return (route.Id, upstream.Id);
    }
}
