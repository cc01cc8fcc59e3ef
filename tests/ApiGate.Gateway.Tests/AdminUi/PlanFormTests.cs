using System.Net;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The console's plan form: numbers past what a field holds are refused at the field, not cut short.</summary>
public sealed class PlanFormTests : AdminUiTestBase
{
    [Theory]
    [InlineData("4294967356")] // 2^32 + 60: its low 32 bits are 60
    [InlineData("2147483648")]
    public async Task RateLimitPastTheLargestWholeNumberItHolds_ErrorAtTheFieldAndNothingStored(string rate)
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/plans");

        // Act
        using var refused = await console.PostAsync("/ui/plans", [new("_handler", "plan"), new("__RequestVerificationToken", antiforgery), new("id", "huge"), new("name", "Huge"),
            new("enabled", "true"), new("rate_limit_per_minute", rate)]);

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Matches("id=\"error-rate_limit_per_minute\"[^>]*>[^<]*out of range \\(at most 2147483647\\)", await refused.Content.ReadAsStringAsync());
        Assert.False((await Gateway.Plans.GetAsync("huge", CancellationToken.None)).Ok);
    }

    [Fact]
    public async Task LargestRateLimit_Stored()
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/plans");

        // Act
        using var created = await console.PostAsync("/ui/plans", [new("_handler", "plan"), new("__RequestVerificationToken", antiforgery), new("id", "largest"), new("name", "Largest"),
            new("enabled", "true"), new("rate_limit_per_minute", "2147483647")]);

        // Assert
        Assert.Equal(HttpStatusCode.Found, created.StatusCode);
        Assert.Equal(int.MaxValue, (await Gateway.Plans.GetAsync("largest", CancellationToken.None)).Value!.RateLimitPerMinute);
    }

    [BrowserFact]
    public async Task RateLimitPastTheLargestWholeNumber_InTheBrowser_ErrorShownAtTheFieldAndTheValueKept()
    {
        // Arrange
        await using var browser = await SignedInAsync();
        var page = browser.Page;
        await browser.GoAsync("/ui/plans");

        // Act
        await page.FillAsync("#f-name", "Huge");
        await page.FillAsync("#f-rate_limit_per_minute", "4294967356");
        await page.ClickAsync("#save-plan");

        // Assert: the field is marked and says why, what was typed is still there, nothing stored
        await Assertions.Expect(page.Locator("#error-rate_limit_per_minute")).ToContainTextAsync("out of range (at most 2147483647)");
        await Assertions.Expect(page.Locator("#f-rate_limit_per_minute")).ToHaveAttributeAsync("aria-invalid", "true");
        await Assertions.Expect(page.Locator("#f-rate_limit_per_minute")).ToHaveValueAsync("4294967356");
        await Assertions.Expect(page.Locator("#done")).ToHaveCountAsync(0);
        Assert.False((await Gateway.Plans.GetAsync("huge", CancellationToken.None)).Ok);
        await browser.ScreenshotAsync("admin-ui-plan-field-error");
    }
}
