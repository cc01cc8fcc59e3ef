using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>The portal in headless Chromium when it has no SMTP server: what a customer is told instead of "we sent it".</summary>
public sealed class PortalBrowserWithoutSmtpTests : PortalTestBase
{
    private protected override void ConfigurePortal(GatewayOptions options) => WithoutSmtp(options);

    [BrowserFact]
    public async Task SignUp_VerificationRequired_ThePageSaysSignUpIsUnavailableAndMarksNoField()
    {
        // Arrange
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;

        // Act
        await browser.GoAsync("/portal/signup");

        // Assert: no form to fill in and fail; nothing marked as if the visitor had typed something wrong
        await Assertions.Expect(page.Locator("#signup-unavailable")).ToHaveTextAsync("Sign-up is not available: this portal cannot send email yet. Please contact the operator.");
        await Assertions.Expect(page.Locator("#sign-up")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator("[aria-invalid='true']")).ToHaveCountAsync(0);
        await Assertions.Expect(page.Locator(".ag-invalid")).ToHaveCountAsync(0);
        await browser.ScreenshotAsync("portal-signup-no-email");
    }

    [BrowserFact]
    public async Task Login_UnconfirmedAccountAsksForANewLink_ThePageSaysThePortalCannotSendEmail()
    {
        // Arrange: an account left unconfirmed (made while the portal could still send email, say)
        const string email = "unsent@customer.example";
        await CreateUnconfirmedAccountAsync(email);
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;
        await LogInAsync(browser, email, landing: null);
        await Assertions.Expect(page.Locator("#resend")).ToBeVisibleAsync();

        // Act
        await page.ClickAsync("#resend");

        // Assert
        await Assertions.Expect(page.Locator("#message-error")).ToHaveTextAsync(PortalAccountService.CannotSendEmail);
        await Assertions.Expect(page.Locator("#message-ok")).ToHaveCountAsync(0);
        await browser.ScreenshotAsync("portal-resend-no-email");
    }
}
