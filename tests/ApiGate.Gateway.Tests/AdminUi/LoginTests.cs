using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.AdminUi;

public sealed class LoginTests : AdminUiTestBase
{
    [BrowserFact]
    public async Task Login_GoodToken_ShowsDashboardSignedInAsTokenName()
    {
        await using var browser = await SignedInAsync();

        Assert.EndsWith("/ui", browser.Page.Url, StringComparison.Ordinal);
        await Assertions.Expect(browser.Page.Locator("h1")).ToHaveTextAsync("Dashboard");
        var session = (await browser.Context.CookiesAsync()).Single(c => c.Name == "apigate_ui_session");
        Assert.True(session.HttpOnly);
        Assert.Equal(SameSiteAttribute.Strict, session.SameSite);
        Assert.Equal("/ui", session.Path);
        await browser.ScreenshotAsync("admin-ui-empty-dashboard");
    }

    [BrowserFact]
    public async Task Login_WrongToken_ShowsMessageAndStaysOnLogin()
    {
        await using var browser = await BrowserHost.OpenAsync(ConsoleUrl);
        await browser.GoAsync("/ui/login");

        await browser.Page.FillAsync("#token", "agt_" + new string('0', 64));
        await browser.Page.ClickAsync("#sign-in");

        await Assertions.Expect(browser.Page.Locator("#login-error")).ToContainTextAsync("That admin token was not accepted: the admin token is not valid.");
        Assert.Contains("/ui/login", browser.Page.Url, StringComparison.Ordinal);
        Assert.DoesNotContain(await browser.Context.CookiesAsync(), c => c.Name == "apigate_ui_session");
    }

    [BrowserFact]
    public async Task Logout_SignedIn_EndsSessionAndProtectsPages()
    {
        await using var browser = await SignedInAsync();

        await browser.Page.ClickAsync("#logout");

        await Assertions.Expect(browser.Page.Locator("#login-logged-out")).ToHaveTextAsync("You have logged out.");
        Assert.Equal(302, await StatusWithoutRedirectAsync(browser, "/ui"));
        await browser.GoAsync("/ui");
        Assert.Contains("/ui/login?return=%2Fui", browser.Page.Url, StringComparison.Ordinal);
    }

    private static async Task<int> StatusWithoutRedirectAsync(BrowserPage browser, string path)
    {
        var response = await browser.Page.APIRequest.GetAsync(path, new APIRequestContextOptions { MaxRedirects = 0 });
        return response.Status;
    }
}
