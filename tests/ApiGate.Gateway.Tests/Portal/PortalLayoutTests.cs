using ApiGate.Core.Management;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>The signed-in portal's frame at a phone's and a desktop's width, and with an email as long as they come.</summary>
public sealed class PortalLayoutTests : PortalTestBase
{
    /// <summary>200 characters, none of them a space: the longest parts an address may have (64, 63, 63).</summary>
    private static readonly string LongEmail = new string('x', 64) + "@" + new string('d', 63) + "." + new string('e', 63) + ".example";

    private protected override void ConfigurePortal(GatewayOptions options) => options.PortalRequireVerification = false;

    [BrowserFact]
    public async Task Phone_PageHasTheWholeWidthAndTheMenuButtonReachesThePages()
    {
        // Arrange
        await using var browser = await LoggedInAsync("phone@customer.example", 375);
        var page = browser.Page;

        // Act: no drawer beside the page, "Log out" on the screen, the menu from the keyboard
        var keys = await browser.AssertPhoneLayoutAndOpenMenuAsync("API keys", "portal-phone-menu");
        await keys.ClickAsync();

        // Assert
        await BrowserPage.ArrivedAtAsync(page, "/portal/keys");
        await Assertions.Expect(page.Locator("#key-name")).ToBeVisibleAsync();
    }

    [BrowserFact]
    public async Task Phone_EveryPage_NothingWiderThanTheScreen()
    {
        // Arrange
        await using var browser = await LoggedInAsync("narrow@customer.example", 375);

        // Act
        var wider = await browser.PagesWiderThanAPhoneAsync(["/portal", "/portal/keys", "/portal/plans", "/portal/reference", "/portal/account"]);

        // Assert
        Assert.Empty(wider);
    }

    [BrowserFact]
    public async Task Phone390_WithAKey_EveryMenuLinkReachesItsPageAndNoPageScrollsSideways()
    {
        // Arrange: a key in the list, a phone 390 px wide
        await using var browser = await LoggedInAsync("grace@customer.example", 390);
        await browser.Page.SetViewportSizeAsync(390, 844);
        await CreateKeyAsync(browser, "laptop");
        (string Link, string Path, string Heading)[] links =
        [
            ("Dashboard", "/portal", "Dashboard"), ("API keys", "/portal/keys", "API keys"), ("Plans", "/portal/plans", "Plans"),
            ("API reference", "/portal/reference", "API reference"), ("Account", "/portal/account", "Account"),
        ];

        // Act
        var problems = await browser.FollowEveryMenuLinkAsync("/portal", links);
        await browser.Page.SetViewportSizeAsync(768, 1024); // a tablet: the drawer beside the page
        problems.AddRange(await browser.PagesWiderThanTheWindowAsync(links.Select(l => l.Path)));
        await using var signedOut = await BrowserHost.OpenAsync(Gateway.Url, 390, 844);
        problems.AddRange(await signedOut.PagesWiderThanTheWindowAsync(["/portal/login", "/portal/signup", "/portal/forgot"]));

        // Assert
        Assert.Empty(problems);
    }

    [BrowserFact]
    public async Task Phone390_NewKey_CopyButtonOnOneLineBesideTheKey()
    {
        // Arrange: the key (64 characters, no space) took the row and squeezed Copy to a letter a line
        await using var browser = await LoggedInAsync("copy@customer.example", 390);
        await browser.Page.SetViewportSizeAsync(390, 844);

        // Act
        await CreateKeyAsync(browser, "phone");
        await browser.ScreenshotAsync("portal-phone-new-key");

        // Assert
        Assert.Equal(1, await browser.Page.EvaluateAsync<int>(
            "(() => { const l = document.querySelector('#copy-key .copy-label'); return Math.round(l.getBoundingClientRect().height / parseFloat(getComputedStyle(l).lineHeight)); })()"));
        await Assertions.Expect(browser.Page.Locator("#copy-key")).ToHaveTextAsync("Copy");
        await Assertions.Expect(browser.Page.Locator("#copy-key")).ToBeInViewportAsync(new() { Ratio = 1 });
    }

    [BrowserFact]
    public async Task EveryPage_TitleNamesThePageAndTheProductAndOneHeadingTheFirst()
    {
        // Arrange
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;
        var titles = new Dictionary<string, string>();
        var headings = new Dictionary<string, IReadOnlyList<string>>();
        foreach (var path in new[] { "/portal/login", "/portal/signup", "/portal/forgot" })
        {
            await browser.GoAsync(path);
            titles[path] = await page.TitleAsync();
            headings[path] = await page.Locator("h1").AllInnerTextsAsync();
        }

        await using var signedIn = await LoggedInAsync("titles@customer.example", 1280);

        // Act
        foreach (var path in new[] { "/portal", "/portal/keys", "/portal/plans", "/portal/reference", "/portal/account" })
        {
            Assert.Equal(200, await signedIn.GoAsync(path));
            titles[path] = await signedIn.Page.TitleAsync();
            headings[path] = await signedIn.Page.Locator("h1").AllInnerTextsAsync();
        }

        // Assert
        Assert.Equal(
            new Dictionary<string, string>
            {
                ["/portal/login"] = "Log in · Acme API", ["/portal/signup"] = "Create an account · Acme API", ["/portal/forgot"] = "Reset your password · Acme API",
                ["/portal"] = "Dashboard · Acme API", ["/portal/keys"] = "API keys · Acme API", ["/portal/plans"] = "Plans · Acme API",
                ["/portal/reference"] = "API reference · Acme API", ["/portal/account"] = "Account · Acme API",
            },
            titles);
        Assert.All(headings, h => Assert.Equal([titles[h.Key].Split(" · ")[0]], h.Value)); // one h1 per page, naming it
    }

    [BrowserFact]
    public async Task LongEmail_Desktop_ShortenedInTheAppBarAndLogOutStaysOnScreen()
    {
        // Arrange
        Assert.Equal(200, LongEmail.Length);
        await using var browser = await LoggedInAsync(LongEmail, 1280);
        var page = browser.Page;

        // Assert
        var logout = await page.Locator("#logout").BoundingBoxAsync();
        Assert.True(logout!.X + logout.Width <= 1280, $"Log out ends at {logout.X + logout.Width} px of 1280");
        await Assertions.Expect(page.Locator("#signed-in-as")).ToHaveAttributeAsync("title", LongEmail);
        Assert.True(await page.EvaluateAsync<bool>("(() => { const name = document.getElementById('app-name'); return name.scrollWidth <= name.clientWidth; })()"), "the product name is cut short");
        Assert.Equal(1280, await page.EvaluateAsync<int>("document.documentElement.scrollWidth"));
    }

    [BrowserFact]
    public async Task LongNamesWithoutSpaces_PagesStayOnScreenAndThePlanNameInItsCard()
    {
        // Arrange: the customer's plan and a route with names of 100+ characters without a space
        var tail = new string('L', 110);
        Assert.True((await Gateway.Plans.CreateAsync(new PlanInput { Id = "long", Name = "Plan" + tail, Description = new string('d', 300), Visible = true }, CancellationToken.None)).Ok);
        await Gateway.AddRouteAsync(new RouteInput { Name = "route" + tail, Path = "/" + new string('p', 120) + "/*", Upstream = "backend", AuthRequired = true });
        await using var browser = await LoggedInAsync("long@customer.example", 1280);
        var page = browser.Page;
        Assert.True((await Gateway.Users.UpdateAsync("long@customer.example", new UserChanges { Plan = "long" }, CancellationToken.None)).Ok);
        var wider = new List<string>();

        // Act
        foreach (var width in new[] { 1280, 375 })
        {
            await page.SetViewportSizeAsync(width, 800);
            foreach (var path in new[] { "/portal", "/portal/plans", "/portal/reference" })
            {
                Assert.Equal(200, await browser.GoAsync(path));
                var scrollWidth = await page.EvaluateAsync<int>("document.documentElement.scrollWidth");
                if (scrollWidth > width)
                {
                    wider.Add($"{path} at {width} px: {scrollWidth} px wide");
                }
            }

            await browser.GoAsync("/portal");
            var name = await page.Locator("#plan-name").BoundingBoxAsync();
            var card = await page.Locator(".ag-stat", new() { Has = page.Locator("#plan-name") }).BoundingBoxAsync();
            if (name!.X + name.Width > card!.X + card.Width)
            {
                wider.Add($"the plan's name at {width} px ends at {name.X + name.Width} px, its card at {card.X + card.Width} px");
            }
        }

        // Assert
        Assert.Empty(wider);
        await Assertions.Expect(page.Locator("#plan-name")).ToHaveTextAsync("Plan" + tail);
    }

    private static async Task CreateKeyAsync(BrowserPage browser, string name)
    {
        Assert.Equal(200, await browser.GoAsync("/portal/keys"));
        await browser.Page.FillAsync("#key-name", name);
        await browser.Page.Locator("#key-name").PressAsync("Enter");
        await Assertions.Expect(browser.Page.Locator("#new-key")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^ak_[0-9a-f]{64}$"));
    }

    private async Task<BrowserPage> LoggedInAsync(string email, int width)
    {
        var accounts = Gateway.Service<PortalAccountService>();
        Assert.True((await accounts.SignUpAsync(email, Password, Gateway.Url, "127.0.0.1", CancellationToken.None)).Ok);
        var browser = await BrowserHost.OpenAsync(Gateway.Url, width, 800);
        await LogInAsync(browser, email);
        return browser;
    }
}
