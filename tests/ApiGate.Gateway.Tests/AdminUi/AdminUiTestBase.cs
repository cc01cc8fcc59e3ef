using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>A gateway with one admin token ("ui-tests") and helpers to drive its console at /ui in Chromium.</summary>
public abstract class AdminUiTestBase : GatewayTestBase
{
    /// <summary>The admin token's name, as the console and the audit log show it.</summary>
    private protected const string TokenName = "ui-tests";

    /// <summary>A valid admin token.</summary>
    private protected string Token { get; private set; } = "";

    private protected override async Task SetUpAsync()
    {
        var created = await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync(TokenName, CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        Token = created.Value!.Token;
    }

    /// <summary>Where the console is reached (the admin listener when there is one).</summary>
    private protected string ConsoleUrl => Gateway.AdminUrl ?? Gateway.Url;

    /// <summary>Opens a page on the console and signs in with <see cref="Token"/>; the dashboard is showing on return.</summary>
    private protected async Task<BrowserPage> SignedInAsync(int width = 1440, int height = 900)
    {
        var browser = await BrowserHost.OpenAsync(ConsoleUrl, width, height);
        await browser.GoAsync("/ui/login");
        await browser.Page.FillAsync("#token", Token);
        await browser.Page.ClickAsync("#sign-in");
        await BrowserPage.ArrivedAtAsync(browser.Page, "/ui");
        await Assertions.Expect(browser.Page.Locator("#signed-in-as")).ToContainTextAsync(TokenName);
        return browser;
    }
}
