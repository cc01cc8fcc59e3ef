using System.Net;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The console's Settings page shows a setting as <c>config show</c> and <c>GET /admin/settings</c> do: no password of a URL or connection string.</summary>
public sealed class SettingsPageTests : AdminUiTestBase
{
    private const string Password = "pg-secret-1";

    private protected override void Configure(GatewayOptions options) =>
        options.StripeApiBase = $"http://127.0.0.1:9/base?password={Password}&x=1"; // billing is off: stored, shown, not used

    [Fact]
    public async Task Settings_UrlWithAPasswordInItsQuery_ShownMaskedAsTheAdminApiShowsIt()
    {
        // Act
        var html = await SettingsPageAsync();

        // Assert
        Assert.DoesNotContain(Password, html, StringComparison.Ordinal);
        Assert.Contains("http://127.0.0.1:9/base?password=***&amp;x=1", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Settings_StoredRowsConfigSetRefuses_ListedRedacted()
    {
        // Arrange: rows config set refuses, written straight into the table (as by hand or by an older tool)
        await Gateway.Store.ChangeStoredSettingsAsync(
            [new("secret_key", "0123456789abcdef0123456789abcdef-stored-secret"), new("redis.url", "redis://:stored-pw@127.0.0.1:6379")], DateTimeOffset.UtcNow, CancellationToken.None);

        // Act
        var html = await SettingsPageAsync();

        // Assert
        Assert.Contains("data-stored=\"secret_key\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("stored-secret", html, StringComparison.Ordinal);
        Assert.DoesNotContain("stored-pw", html, StringComparison.Ordinal);
        Assert.Contains("redis://***@127.0.0.1:6379", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Settings_AHostWithoutItsSources_OffersNoForgetButton()
    {
        // Arrange
        await Gateway.Store.ChangeStoredSettingsAsync([new("log.level", "debug")], DateTimeOffset.UtcNow, CancellationToken.None);

        // Act
        var html = await SettingsPageAsync();

        // Assert: this host cannot check a change (a Forget would answer 400 without a word), so it offers none
        Assert.Contains("data-stored=\"log.level\"", html, StringComparison.Ordinal);
        Assert.Contains("id=\"stored-readonly\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain(">Forget</button>", html, StringComparison.Ordinal);
    }

    [BrowserFact]
    public async Task Settings_InABrowser_EverySettingIsARowWithItsSourceColumn()
    {
        // Arrange
        await using var browser = await SignedInAsync();

        // Act
        Assert.Equal(200, await browser.GoAsync("/ui/settings"));
        await browser.ScreenshotAsync("admin-ui-settings");

        // Assert: this host was built from options alone, so no source is known ("—"); serve shows them (StoredSettingsTests)
        Assert.Equal(GatewaySettings.All.Count, await browser.Page.Locator("#settings-table tbody tr").CountAsync());
        Assert.Equal(["Setting", "Environment variable", "Value", "Source"], await browser.Page.Locator("#settings-table thead th").AllTextContentsAsync());
        Assert.Equal("—", await browser.Page.Locator("tr[data-setting='server.port'] td.ag-source").TextContentAsync());
    }

    /// <summary>The settings page as a signed-in operator gets it (checked to answer 200).</summary>
    private async Task<string> SettingsPageAsync()
    {
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        using var response = await console.GetAsync("/ui/settings");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }
}
