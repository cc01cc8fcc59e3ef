using System.Net;
using System.Text.RegularExpressions;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ApiGate.Gateway.Tests.AdminUi;

/// <summary>The console's plan fields for the portal and billing, and its webhook endpoints page, over HTTP.</summary>
public sealed partial class BillingAndWebhookPagesTests : AdminUiTestBase
{
    [Fact]
    public async Task PlanForm_VisibleAndStripeFields_StoredOnThePlan()
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/plans");

        // Act
        using var created = await console.PostAsync("/ui/plans", [new("_handler", "plan"), new("__RequestVerificationToken", antiforgery), new("id", "gold"), new("name", "Gold"),
            new("enabled", "true"), new("visible", "true"), new("price_monthly", "4900"), new("overage_price", "2"), new("stripe_price_id", "price_gold"),
            new("stripe_overage_price_id", "price_gold_overage"), new("stripe_meter_event", "api_overage")]);

        // Assert
        Assert.Equal(HttpStatusCode.Found, created.StatusCode);
        var plan = (await Gateway.Plans.GetAsync("gold", CancellationToken.None)).Value!;
        Assert.Equal((true, "price_gold", "price_gold_overage", "api_overage"), (plan.Visible, plan.StripePriceId, plan.StripeOveragePriceId, plan.StripeMeterEvent));
    }

    [Fact]
    public async Task PlanForm_EditPostedWithoutTheStripeFields_StripeIdsKept()
    {
        // Arrange: a plan sold through Stripe; a post that leaves the fields out (a script, an older page) is not a post
        // that empties them — the form always sends them, empty when the operator clears them
        var created = await Gateway.Plans.CreateAsync(new ApiGate.Core.Management.PlanInput
        {
            Id = "bronze", Name = "Bronze", OveragePrice = 2, StripePriceId = "price_bronze", StripeOveragePriceId = "price_bronze_overage", StripeMeterEvent = "api_overage",
        }, CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/plans?edit=bronze");
        var version = await MissingRowTests.LabelFromAsync(console, "/ui/plans?edit=bronze", "plan", "_version");

        // Act
        using var saved = await console.PostAsync("/ui/plans?edit=bronze", [new("_handler", "plan"), new("__RequestVerificationToken", antiforgery),
            new("_version", version), new("editing", "bronze"), new("name", "Bronze plus"), new("enabled", "true")]);

        // Assert
        Assert.Equal(HttpStatusCode.Found, saved.StatusCode);
        var plan = (await Gateway.Plans.GetAsync("bronze", CancellationToken.None)).Value!;
        Assert.Equal(("Bronze plus", "price_bronze", "price_bronze_overage", "api_overage"), (plan.Name, plan.StripePriceId, plan.StripeOveragePriceId, plan.StripeMeterEvent));
    }

    [Fact]
    public async Task PlanForm_StripeIdOfTheWrongShape_ErrorAtTheFieldAndNothingStored()
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/plans");

        // Act
        using var refused = await console.PostAsync("/ui/plans", [new("_handler", "plan"), new("__RequestVerificationToken", antiforgery), new("id", "silver"), new("name", "Silver"),
            new("enabled", "true"), new("stripe_price_id", "prod_123")]);

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Matches("id=\"error-stripe_price_id\"[^>]*>[^<]*price_", await refused.Content.ReadAsStringAsync());
        Assert.False((await Gateway.Plans.GetAsync("silver", CancellationToken.None)).Ok);
    }

    [Fact]
    public async Task Webhooks_CreateEndpoint_SecretShownOnceThenOnlyTheEndpointListed()
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/webhooks");

        // Act
        using var created = await console.PostAsync("/ui/webhooks", [new("_handler", "create-webhook"), new("__RequestVerificationToken", antiforgery),
            new("url", "https://crm.example.com/hooks"), new("events", "key.created, usage.threshold")]);
        var page = await created.Content.ReadAsStringAsync();
        using var list = await console.GetAsync("/ui/webhooks");
        var listed = await list.Content.ReadAsStringAsync();

        // Assert
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
        var secret = SecretShown().Match(page);
        Assert.True(secret.Success, "no signing secret in the response");
        var endpoint = Assert.Single(await Gateway.Service<ApiGate.Core.Management.WebhookService>().ListAsync(CancellationToken.None));
        Assert.Equal("https://crm.example.com/hooks", endpoint.Url);
        Assert.Equal(["key.created", "usage.threshold"], endpoint.Events);
        Assert.Contains(endpoint.Id, listed, StringComparison.Ordinal);
        Assert.DoesNotContain(secret.Groups[1].Value, listed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Webhooks_UrlNotHttp_ErrorAtTheUrlFieldAndNothingStored()
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/webhooks");

        // Act
        using var refused = await console.PostAsync("/ui/webhooks", [new("_handler", "create-webhook"), new("__RequestVerificationToken", antiforgery),
            new("url", "ftp://crm.example.com/hooks"), new("events", "key.created")]);

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("id=\"error-url\"", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Empty(await Gateway.Service<ApiGate.Core.Management.WebhookService>().ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Webhooks_UrlWithAPassword_RefusedAndThePasswordNotSentBack()
    {
        // Arrange
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/webhooks");

        // Act
        using var refused = await console.PostAsync("/ui/webhooks", [new("_handler", "create-webhook"), new("__RequestVerificationToken", antiforgery),
            new("url", "https://crm:typed-secret@crm.example.com/hooks"), new("events", "key.created")]);

        // Assert: the refusal at the field, the URL shown again with its user info masked
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var html = WebUtility.HtmlDecode(await refused.Content.ReadAsStringAsync());
        Assert.Contains("url must not contain a user name or password", html, StringComparison.Ordinal);
        Assert.Contains("value=\"https://***@crm.example.com/hooks\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("typed-secret", html, StringComparison.Ordinal);
        Assert.Empty(await Gateway.Service<ApiGate.Core.Management.WebhookService>().ListAsync(CancellationToken.None));
    }

    [Fact]
    public async Task Webhooks_SendTest_TestDeliveryListedForTheEndpoint()
    {
        // Arrange
        var service = Gateway.Service<ApiGate.Core.Management.WebhookService>();
        var endpoint = (await service.CreateAsync(new ApiGate.Core.Management.WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = ["key.created"] }, CancellationToken.None)).Value!.Endpoint;
        using var console = new ConsoleHttp(ConsoleUrl);
        await console.SignInAsync(Token);
        var antiforgery = await console.TokenFromAsync("/ui/webhooks");

        // Act
        using var sent = await console.PostAsync("/ui/webhooks", [new("_handler", "t" + endpoint.Id), new("__RequestVerificationToken", antiforgery), new("id", endpoint.Id)]);
        using var deliveries = await console.GetAsync(console.PathOf(sent)!);
        var html = await deliveries.Content.ReadAsStringAsync();

        // Assert
        Assert.Equal(HttpStatusCode.Found, sent.StatusCode);
        Assert.StartsWith("/ui/webhooks?deliveries=" + endpoint.Id, console.PathOf(sent), StringComparison.Ordinal);
        Assert.Matches("<td>test</td>", html);
    }

    [BrowserFact]
    public async Task Webhooks_AddEndpointInTheBrowser_SecretShownOnceWithCopyThenGone()
    {
        // Arrange
        await using var browser = await SignedInAsync();
        var page = browser.Page;
        await page.Context.GrantPermissionsAsync(["clipboard-read", "clipboard-write"]);
        await browser.GoAsync("/ui/webhooks");

        // Act
        await page.FillAsync("#f-url", "https://crm.example.com/hooks");
        await page.FillAsync("#f-events", "key.created,usage.threshold");
        await page.FillAsync("#f-description", "CRM sync");
        await page.ClickAsync("#create-webhook");

        // Assert
        var secret = (await page.Locator("#new-secret").TextContentAsync())!.Trim();
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        await page.ClickAsync("#copy-secret");
        await Assertions.Expect(page.Locator("#copy-secret")).ToHaveAttributeAsync("data-copied", "true");
        Assert.Equal(secret, (await page.EvaluateAsync<string>("() => navigator.clipboard.readText()")).Trim());
        await Assertions.Expect(page.Locator("#webhooks-table tbody tr")).ToHaveCountAsync(1);
        await browser.ScreenshotAsync("admin-ui-webhooks");
        await browser.GoAsync("/ui/webhooks");
        Assert.Equal(0, await page.Locator("#new-secret").CountAsync());
        Assert.DoesNotContain(secret, await page.ContentAsync(), StringComparison.Ordinal);
    }

    [BrowserFact]
    public async Task Webhooks_CreateFormSubmittedTwice_SecondSubmitHeldBack()
    {
        // Arrange: a listener on the window runs after the page's own script, sees whether it held a submit back, and
        // keeps the page where it is (so both submits meet the same page view)
        await using var browser = await SignedInAsync();
        var page = browser.Page;
        await browser.GoAsync("/ui/webhooks");
        await page.FillAsync("#f-url", "https://billing.example.com/hooks");
        await page.FillAsync("#f-events", "key.created");

        // Act: a second click while the first post is on its way
        var heldBack = await page.EvaluateAsync<bool[]>("""
            () => {
              const seen = [];
              window.addEventListener('submit', e => { seen.push(e.defaultPrevented); e.preventDefault(); });
              const button = document.getElementById('create-webhook');
              button.click();
              button.click();
              return seen;
            }
            """);

        // Assert
        Assert.Equal([false, true], heldBack);
    }

    [GeneratedRegex("id=\"new-secret\"[^>]*>([^<]+)<")]
    private static partial Regex SecretShown();
}
