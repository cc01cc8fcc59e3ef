using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Billing;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>
/// The portal's plan page with billing on (Stripe.net pointed at a <see cref="FakeStripe"/>): paid plans go through
/// Stripe Checkout, a billing customer gets Stripe's billing portal, and the plan never changes on the page itself.
/// </summary>
public sealed class PortalBillingTests : PortalTestBase, IDisposable
{
    private readonly FakeStripe _stripe = FakeStripe.StartAsync().GetAwaiter().GetResult();
    private readonly CapturedLog _log = new();

    private protected override void ConfigurePortal(GatewayOptions options)
    {
        options.LogWriter = _log.Writer;
        _stripe.BillWith(options);
    }

    private protected override async Task SetUpAsync()
    {
        await base.SetUpAsync();
        _stripe.Prices.Add("price_pro");
        Assert.True((await Gateway.Plans.UpdateAsync("pro", new PlanInput { StripePriceId = "price_pro" }, CancellationToken.None)).Ok);
    }

    [Fact]
    public async Task Subscribe_PaidPlan_RedirectsToStripeCheckoutWithPortalReturnUrlsAndPlanUnchanged()
    {
        // Arrange
        using var client = await SignedInAsync("buyer@customer.example");

        // Act
        var response = await PostFormAsync(client, "/portal/plans", "subscribe-pro");
        var plans = await client.GetStringAsync("/portal/plans");

        // Assert
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("https://checkout.stripe.com/c/pay/cs_test_fake", response.Headers.Location!.ToString(), StringComparison.Ordinal);
        var session = Assert.Single(_stripe.To("/v1/checkout/sessions"));
        Assert.Equal("subscription", session.Form["mode"]);
        Assert.Equal("price_pro", session.Form["line_items[0][price]"]);
        Assert.Equal(Gateway.Url.TrimEnd('/') + "/portal/plans?checkout=done", session.Form["success_url"]);
        Assert.Equal(Gateway.Url.TrimEnd('/') + "/portal/plans", session.Form["cancel_url"]);
        Assert.Equal("free", (await Gateway.Users.GetAsync("buyer@customer.example", CancellationToken.None)).Value!.PlanId);
        Assert.Contains("id=\"manage-billing\"", plans, StringComparison.Ordinal); // now a Stripe customer
    }

    [Fact]
    public async Task Subscribe_PlanPricedZeroWithOverage_OfferedAndCheckoutHasOnlyTheMeteredPrice()
    {
        // Arrange
        await CreatePaygAsync();
        using var client = await SignedInAsync("payg@customer.example");

        // Act
        var plans = await client.GetStringAsync("/portal/plans");
        var response = await PostFormAsync(client, "/portal/plans", "subscribe-payg");

        // Assert: the free plan has nothing to buy; payg is subscribed to with its metered price alone
        Assert.Contains("id=\"subscribe-payg\"", plans, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"subscribe-free\"", plans, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("https://checkout.stripe.com/c/pay/cs_test_fake", response.Headers.Location!.ToString(), StringComparison.Ordinal);
        var session = Assert.Single(_stripe.To("/v1/checkout/sessions"));
        Assert.Equal("subscription", session.Form["mode"]);
        Assert.Equal(["line_items[0][price]"], session.Form.Keys.Where(k => k.StartsWith("line_items", StringComparison.Ordinal)).ToArray());
        Assert.Equal("price_metered", session.Form["line_items[0][price]"]);
        Assert.Equal("payg", session.Form["metadata[apigate_plan]"]);
        Assert.Equal("free", (await Gateway.Users.GetAsync("payg@customer.example", CancellationToken.None)).Value!.PlanId);
    }

    [Fact]
    public async Task Plans_OnOveragePlanWithoutSubscription_SaysOverageNeedsOneAndOffersIt_UntilSubscribed_AndPaidWhenPastDue()
    {
        // Arrange: moved onto payg by hand, so held to its quota until a subscription pays for the overage
        await CreatePaygAsync();
        const string email = "held@customer.example";
        using var client = await SignedInAsync(email);
        Assert.True((await Gateway.Users.UpdateAsync(email, new UserChanges { Plan = "payg" }, CancellationToken.None)).Ok);
        var user = (await Gateway.Users.GetAsync(email, CancellationToken.None)).Value!;

        // Act
        var held = await client.GetStringAsync("/portal/plans");
        var checkout = await PostFormAsync(client, "/portal/plans", "subscribe-payg");
        var customer = (await Gateway.Store.FindBillingCustomerAsync(user.Id, CancellationToken.None))!.CustomerId;
        var t = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60;
        Assert.Equal(HttpStatusCode.OK,
            (await BillingHarness.PostWebhookAsync(Gateway, StripeEvents.CheckoutCompleted("evt_held1", t, customer, "sub_held", user.Id, "payg"))).Status);
        var subscribed = await client.GetStringAsync("/portal/plans");
        Assert.Equal(HttpStatusCode.OK, (await BillingHarness.PostWebhookAsync(Gateway,
            StripeEvents.Subscription("evt_held2", "customer.subscription.updated", t + 10, "sub_held", customer, "past_due", t, "price_metered"))).Status);
        var pastDue = await client.GetStringAsync("/portal/plans");

        // Assert: the current plan's card does not promise the overage, and offers the checkout that pays for it
        Assert.Contains("<li id=\"overage-needs-subscription\">Past the quota: 0.01 per request with a subscription; without one, requests past the quota are refused until next month</li>",
            held, StringComparison.Ordinal);
        Assert.Contains("id=\"subscribe-payg\"", held, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, checkout.StatusCode);
        Assert.Equal("price_metered", Assert.Single(_stripe.To("/v1/checkout/sessions")).Form["line_items[0][price]"]);
        Assert.DoesNotContain("overage-needs-subscription", subscribed, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"subscribe-payg\"", subscribed, StringComparison.Ordinal);
        Assert.Contains("<li>Past the quota: 0.01 per request</li>", subscribed, StringComparison.Ordinal);
        // past due: the subscription is there but unpaid, so the card points to paying it, not to a second checkout
        Assert.Contains("<li id=\"overage-needs-payment\">Past the quota: 0.01 per request once your subscription is paid; until then requests past the quota are refused (see Manage billing)</li>",
            pastDue, StringComparison.Ordinal);
        Assert.DoesNotContain("overage-needs-subscription", pastDue, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"subscribe-payg\"", pastDue, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Checkout_FreePlanWithBillingOn_RefusedWithoutCallingStripe()
    {
        // Arrange
        using var client = await SignedInAsync("thrifty@customer.example");
        var user = (await Gateway.Users.GetAsync("thrifty@customer.example", CancellationToken.None)).Value!;
        var sentBefore = _stripe.Requests.Count;

        // Act
        var (url, refusal) = await Gateway.Service<PortalPlanService>().CheckoutAsync(user, "free", Gateway.Url, CancellationToken.None);

        // Assert
        Assert.Null(url);
        Assert.Equal("That plan is not offered through checkout.", refusal!.Message);
        Assert.Equal(sentBefore, _stripe.Requests.Count);
    }

    [Theory]
    [InlineData(0, 1)] // priced 0, overage billed outside Stripe (no stripe_overage_price_id)
    [InlineData(4900, 0)] // paid, but not sold through Stripe (no stripe_price_id)
    public async Task Subscribe_PlanWithAPriceButNoStripePriceForIt_NotOfferedAndRefusedWithoutCallingStripe(long priceMonthly, long overagePrice)
    {
        // Arrange: a price Stripe has no price for: there is nothing for checkout to sell
        Assert.True((await Gateway.Plans.CreateAsync(new PlanInput
        {
            Id = "invoiced", Name = "Invoiced", PriceMonthly = priceMonthly, RequestsPerMonth = 1000, OveragePrice = overagePrice, Visible = true,
        }, CancellationToken.None)).Ok);
        using var client = await SignedInAsync("invoiced@customer.example");
        var user = (await Gateway.Users.GetAsync("invoiced@customer.example", CancellationToken.None)).Value!;
        var sentBefore = _stripe.Requests.Count;

        // Act
        var plans = await client.GetStringAsync("/portal/plans");
        var (url, refusal) = await Gateway.Service<PortalPlanService>().CheckoutAsync(user, "invoiced", Gateway.Url, CancellationToken.None);

        // Assert: no "Subscribe" that could only ever fail, and a post of one anyway is refused as not offered
        Assert.DoesNotContain("id=\"subscribe-invoiced\"", plans, StringComparison.Ordinal);
        Assert.Null(url);
        Assert.Equal("That plan is not offered through checkout.", refusal!.Message);
        Assert.Equal(sentBefore, _stripe.Requests.Count);
    }

    [Fact]
    public async Task Subscribe_WhileASubscriptionIsLive_NotOfferedAndRefusedSoNoSecondSubscriptionIsBilled()
    {
        // Arrange: checkout completed (Stripe's signed webhook), so the customer pays for pro
        using var client = await SignedInAsync("subscriber@customer.example");
        Assert.Equal(HttpStatusCode.Redirect, (await PostFormAsync(client, "/portal/plans", "subscribe-pro")).StatusCode);
        var user = (await Gateway.Users.GetAsync("subscriber@customer.example", CancellationToken.None)).Value!;
        var customer = (await Gateway.Store.FindBillingCustomerAsync(user.Id, CancellationToken.None))!.CustomerId;
        var completed = StripeEvents.CheckoutCompleted("evt_sub1", DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 5, customer, "sub_live", user.Id, "pro");
        Assert.Equal(HttpStatusCode.OK, (await BillingHarness.PostWebhookAsync(Gateway, completed)).Status);

        Assert.True((await Gateway.Plans.UpdateAsync("free", new PlanInput { StripePriceId = "price_free_tier" }, CancellationToken.None)).Ok);
        var sessionsBefore = _stripe.To("/v1/checkout/sessions").Count();

        // Act: the plans page, and a checkout for another plan posted anyway (an old tab, a crafted form)
        var plans = await client.GetStringAsync("/portal/plans");
        var second = await Gateway.Service<ApiGate.Core.Management.BillingService>().StartCheckoutAsync(user.Id, "free", Gateway.Url + "/portal/plans", Gateway.Url + "/portal/plans", CancellationToken.None);

        // Assert
        Assert.Contains("id=\"change-under-billing-free\"", plans, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"subscribe-", plans, StringComparison.Ordinal);
        Assert.False(second.Ok);
        Assert.Equal(ManagementErrorKind.Conflict, second.Error!.Kind);
        Assert.Contains("has a subscription already (sub_live, active)", second.Error.Message, StringComparison.Ordinal);
        Assert.Equal(sessionsBefore, _stripe.To("/v1/checkout/sessions").Count());
    }

    [BrowserFact]
    public async Task PlansPage_InABrowserWithAPlanPricedZeroWithOverage_OffersSubscribeAndShowsTheOveragePrice_HeldOnItWithoutOne()
    {
        // Arrange: a pay-as-you-go plan sold with its metered price alone, beside free, pro and team
        await CreatePaygAsync();
        const string email = "payg-viewer@customer.example";
        using var client = await SignedInAsync(email);
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;
        await LogInAsync(browser, email);

        // Act
        await browser.GoAsync("/portal/plans");

        // Assert: payg offers Subscribe, costs 0.00 a month (not "Free": requests past its quota are charged) and says
        // what such a request costs; the free plan offers nothing to buy
        await Microsoft.Playwright.Assertions.Expect(page.Locator("#subscribe-payg")).ToBeVisibleAsync();
        await Microsoft.Playwright.Assertions.Expect(page.Locator("[data-plan='payg'] .ag-stat-value")).ToHaveTextAsync("0.00");
        await Microsoft.Playwright.Assertions.Expect(page.Locator("[data-plan='free'] .ag-stat-value")).ToHaveTextAsync("Free");
        await Microsoft.Playwright.Assertions.Expect(page.GetByText("Past the quota: 0.01 per request")).ToBeVisibleAsync();
        Assert.Equal(0, await page.Locator("#subscribe-free").CountAsync());
        await browser.ScreenshotAsync("portal-plans-payg");

        // Act + Assert: moved onto payg by hand, without a subscription its card says requests past the quota are
        // refused, and still offers Subscribe
        Assert.True((await Gateway.Users.UpdateAsync(email, new UserChanges { Plan = "payg" }, CancellationToken.None)).Ok);
        await browser.GoAsync("/portal/plans");
        await Microsoft.Playwright.Assertions.Expect(page.Locator("#overage-needs-subscription")).ToHaveTextAsync(
            "Past the quota: 0.01 per request with a subscription; without one, requests past the quota are refused until next month");
        await Microsoft.Playwright.Assertions.Expect(page.Locator("[data-plan='payg'] #subscribe-payg")).ToBeVisibleAsync();
        await browser.ScreenshotAsync("portal-plans-payg-held");
    }

    [BrowserFact]
    public async Task PlansPage_InABrowserWhileSubscribed_PointsToManageBillingAndAStaleFormGetsTheRefusedPage()
    {
        // Arrange: a customer with a live pro subscription (checkout, then Stripe's signed webhook)
        const string email = "viewer@customer.example";
        using var client = await SignedInAsync(email);
        Assert.Equal(HttpStatusCode.Redirect, (await PostFormAsync(client, "/portal/plans", "subscribe-pro")).StatusCode);
        var user = (await Gateway.Users.GetAsync(email, CancellationToken.None)).Value!;
        var customer = (await Gateway.Store.FindBillingCustomerAsync(user.Id, CancellationToken.None))!.CustomerId;
        var completed = StripeEvents.CheckoutCompleted("evt_view1", DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 5, customer, "sub_view", user.Id, "pro");
        Assert.Equal(HttpStatusCode.OK, (await BillingHarness.PostWebhookAsync(Gateway, completed)).Status);
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;
        await LogInAsync(browser, email);

        // Act + Assert: the plans page
        await browser.GoAsync("/portal/plans");
        await Microsoft.Playwright.Assertions.Expect(page.Locator("#change-under-billing-free")).ToHaveTextAsync("Change to this plan, or cancel, under Manage billing.");
        await Microsoft.Playwright.Assertions.Expect(page.Locator("#manage-billing")).ToBeVisibleAsync();
        Assert.Equal(0, await page.Locator("[id^='subscribe-']").CountAsync());
        await browser.ScreenshotAsync("portal-plans-subscribed");

        // a form posted without its antiforgery token (a forged page elsewhere): the refused page, nothing changed
        await page.SetContentAsync($"<form id='f' method='post' action='{Gateway.Url}/portal/plans'><input name='_handler' value='subscribe-team'></form>");
        var refused = await page.RunAndWaitForResponseAsync(
            () => page.EvaluateAsync("document.getElementById('f').submit()"), r => r.Request.Method == "POST" && r.Url.EndsWith("/portal/plans", StringComparison.Ordinal));
        Assert.Equal(400, refused.Status);
        await Microsoft.Playwright.Assertions.Expect(page.Locator("#form-refused")).ToContainTextAsync("nothing was changed");
        await browser.ScreenshotAsync("portal-form-refused");
    }

    [Fact]
    public async Task ManageBilling_BillingCustomer_RedirectsToStripesBillingPortal()
    {
        // Arrange
        using var client = await SignedInAsync("payer@customer.example");
        Assert.Equal(HttpStatusCode.Redirect, (await PostFormAsync(client, "/portal/plans", "subscribe-pro")).StatusCode);

        // Act
        var response = await PostFormAsync(client, "/portal/plans", "manage-billing");

        // Assert
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("https://billing.stripe.com/p/session/test_fake", response.Headers.Location!.ToString(), StringComparison.Ordinal);
        var session = Assert.Single(_stripe.To("/v1/billing_portal/sessions"));
        Assert.Equal(Gateway.Url.TrimEnd('/') + "/portal/plans", session.Form["return_url"]);
    }

    [Fact]
    public async Task Subscribe_StripeRefusesTheGatewaysOwnKey_CustomerIsNotShownTheProvidersAnswer()
    {
        // Arrange: the operator's secret key is refused (revoked, rotated); Stripe's real answer names the key
        // ("Invalid API Key provided: sk_test_****3456"), an unreachable API base names the internal host and port
        using var client = await SignedInAsync("curious@customer.example");
        _stripe.FailNext = ("/v1/customers", 401);

        // Act: any signed-in customer presses Subscribe
        var response = await PostFormAsync(client, "/portal/plans", "subscribe-pro");

        // Assert: the customer is told to try later; what the provider said about the operator's account stays out of the page
        var message = TextOf(await response.Content.ReadAsStringAsync(), "message-error");
        Assert.StartsWith("Checkout cannot start right now", message, StringComparison.Ordinal);
        Assert.DoesNotContain("Stripe answered", message, StringComparison.Ordinal);
        Assert.DoesNotContain("401", message, StringComparison.Ordinal);
        // ... and the operator's log has it (event 8012): stopping the gateway writes the log's last batch
        var user = (await Gateway.Users.GetAsync("curious@customer.example", CancellationToken.None)).Value!;
        await Gateway.StopAsync();
        var line = _log.Text.Split('\n').Single(l => l.Contains("[8012]", StringComparison.Ordinal));
        Assert.Contains(user.Id, line, StringComparison.Ordinal);
        Assert.Contains("401", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Subscribe_StripeDown_MessageOnPageAndPlanUnchanged()
    {
        // Arrange
        using var client = await SignedInAsync("unlucky@customer.example");
        _stripe.FailNext = ("/v1/customers", 500);

        // Act
        var response = await PostFormAsync(client, "/portal/plans", "subscribe-pro");

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.StartsWith("Checkout cannot start right now: ", TextOf(await response.Content.ReadAsStringAsync(), "message-error"), StringComparison.Ordinal);
        Assert.Empty(_stripe.To("/v1/checkout/sessions"));
        Assert.Equal("free", (await Gateway.Users.GetAsync("unlucky@customer.example", CancellationToken.None)).Value!.PlanId);
    }

    [Fact]
    public async Task SubscribeAndManageBilling_PostedInALoop_PastTwentyInAnHour429AndNothingSentToStripe()
    {
        // Arrange: a customer whose script started twenty checkouts within the hour (each a call to Stripe on the
        // operator's account)
        using var client = await SignedInAsync("looper@customer.example");
        for (var i = 0; i < PortalPlanService.MaxRequestsPerHour; i++)
        {
            Assert.Equal(HttpStatusCode.Redirect, (await PostFormAsync(client, "/portal/plans", "subscribe-pro")).StatusCode);
        }

        // Act
        var subscribe = await PostFormAsync(client, "/portal/plans", "subscribe-pro");
        var manage = await PostFormAsync(client, "/portal/plans", "manage-billing");

        // Assert: refused with the wait before Stripe is called
        Assert.Equal(HttpStatusCode.TooManyRequests, subscribe.StatusCode);
        Assert.Equal("Too many plan and billing requests. Try again in 60 minute(s).", TextOf(await subscribe.Content.ReadAsStringAsync(), "message-error"));
        Assert.Equal(HttpStatusCode.TooManyRequests, manage.StatusCode);
        Assert.Equal("Too many plan and billing requests. Try again in 60 minute(s).", TextOf(await manage.Content.ReadAsStringAsync(), "message-error"));
        Assert.Equal(PortalPlanService.MaxRequestsPerHour, _stripe.To("/v1/checkout/sessions").Count());
        Assert.Empty(_stripe.To("/v1/billing_portal/sessions"));
    }

    [Fact]
    public async Task Subscribe_MissingAntiforgeryToken_RefusedAndNothingSentToStripe()
    {
        // Arrange
        using var client = await SignedInAsync("forged@customer.example");

        // Act
        var response = await client.PostAsync("/portal/plans", new FormUrlEncodedContent(new Dictionary<string, string> { ["_handler"] = "subscribe-pro" }));

        // Assert
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Empty(_stripe.To("/v1/checkout/sessions"));
    }

    [Fact]
    public async Task Login_SuspendedForAFailedPayment_ReachesOnlyThePlansPageWithManageBillingUntilThePaymentGoesThrough()
    {
        // Arrange: a pro subscriber (checkout, then Stripe's signed webhook) whose renewal fails, so they are suspended
        const string email = "dunned@customer.example";
        using var before = await SignedInAsync(email);
        var (user, customer, t) = await SubscribedAndPaymentFailedAsync(before, email, "d");
        Assert.Equal(ApiGate.Core.Identity.UserStatus.Suspended, (await Gateway.Users.GetAsync(email, CancellationToken.None)).Value!.Status);
        var keysBefore = (await Gateway.Store.ListKeysAsync(user.Id, CancellationToken.None)).Count;

        // Act: a new login, then every other page and a key posted anyway; the session opened before the failure too
        using var client = CookieClient();
        var login = await PostFormAsync(client, "/portal/login", "login", ("Email", email), ("Password", Password));
        var dashboard = await client.GetAsync("/portal");
        var keysPage = await client.GetAsync("/portal/keys");
        var token = FormPosts.TokenIn(await client.GetStringAsync("/portal/plans"), "/portal/plans"); // the keys page's form is not served
        var createKey = await client.PostAsync("/portal/keys", new FormUrlEncodedContent(
            new Dictionary<string, string> { ["__RequestVerificationToken"] = token, ["_handler"] = "create", ["Name"] = "during hold" }));
        var plans = await client.GetStringAsync("/portal/plans");
        var checkout = await PostFormAsync(client, "/portal/plans", "subscribe-pro"); // a form the page no longer shows
        var suspended = (await Gateway.Users.GetAsync(email, CancellationToken.None)).Value!;
        var (checkoutUrl, checkoutRefusal) = await Gateway.Service<PortalPlanService>().CheckoutAsync(suspended, "pro", Gateway.Url, CancellationToken.None);
        var manage = await PostFormAsync(client, "/portal/plans", "manage-billing");
        var earlierSession = await before.GetAsync("/portal/account");

        // Assert
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal("/portal/plans", dashboard.Headers.Location!.OriginalString);
        Assert.Equal("/portal/plans", keysPage.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.SeeOther, createKey.StatusCode);
        Assert.Equal("/portal/plans", createKey.Headers.Location!.OriginalString);
        Assert.Equal(keysBefore, (await Gateway.Store.ListKeysAsync(user.Id, CancellationToken.None)).Count);
        Assert.StartsWith("Your account is suspended because a payment failed", TextOf(plans, "message-billing-hold"), StringComparison.Ordinal);
        Assert.Contains("id=\"manage-billing\"", plans, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"/portal/keys\"", plans, StringComparison.Ordinal);
        Assert.DoesNotContain("id=\"subscribe-", plans, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, checkout.StatusCode);
        Assert.Contains("This form is not on the page any more", await checkout.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Null(checkoutUrl);
        Assert.Equal(PortalPlanService.SettleFirst, checkoutRefusal!.Message);
        Assert.Single(_stripe.To("/v1/checkout/sessions")); // the first subscription's only
        Assert.Equal(HttpStatusCode.Redirect, manage.StatusCode);
        Assert.StartsWith("https://billing.stripe.com/p/session/test_fake", manage.Headers.Location!.ToString(), StringComparison.Ordinal);
        Assert.Equal("/portal/plans", earlierSession.Headers.Location!.OriginalString);

        // Act + Assert: the payment goes through (Stripe's subscription event): the whole portal again, same session
        var paid = StripeEvents.Subscription("evt_d3", "customer.subscription.updated", t + 20, "sub_d", customer, "active", t, "price_pro");
        Assert.Equal(HttpStatusCode.OK, (await BillingHarness.PostWebhookAsync(Gateway, paid)).Status);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/portal/keys")).StatusCode);
        Assert.DoesNotContain("message-billing-hold", await client.GetStringAsync("/portal/plans"), StringComparison.Ordinal);
    }

    [BrowserFact]
    public async Task PlansPage_InABrowserOnBillingHold_SaysWhyAndOffersOnlyManageBilling()
    {
        // Arrange: a pro subscriber whose renewal failed (Stripe's signed webhooks), signing in with a browser
        const string email = "held@customer.example";
        using var client = await SignedInAsync(email);
        await SubscribedAndPaymentFailedAsync(client, email, "h");
        await using var browser = await BrowserHost.OpenAsync(Gateway.Url);
        var page = browser.Page;

        // Act
        await LogInAsync(browser, email, "/portal/plans");

        // Assert
        await Microsoft.Playwright.Assertions.Expect(page.Locator("#message-billing-hold")).ToContainTextAsync("a payment failed");
        await Microsoft.Playwright.Assertions.Expect(page.Locator("#manage-billing")).ToBeVisibleAsync();
        Assert.Equal(0, await page.Locator("a[href='/portal/keys']").CountAsync());
        Assert.Equal(0, await page.Locator("[id^='subscribe-'], [id^='change-under-billing-']").CountAsync());
        await browser.ScreenshotAsync("portal-billing-hold");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Login_SuspendedByTheOperator_RefusedEvenWithBillingOnAndAnEarlierPaymentFailure(bool paymentFailedFirst)
    {
        // Arrange: a billing customer the operator suspends (after a payment failure billing suspended them for: the
        // operator reactivated them, then suspended them again)
        var email = paymentFailedFirst ? "rebanned@customer.example" : "banned@customer.example";
        using var before = await SignedInAsync(email);
        if (!paymentFailedFirst)
        {
            Assert.Equal(HttpStatusCode.Redirect, (await PostFormAsync(before, "/portal/plans", "subscribe-pro")).StatusCode);
        }
        else
        {
            await SubscribedAndPaymentFailedAsync(before, email, "r");
            Assert.True((await Gateway.Users.UpdateAsync(email, new UserChanges { Status = ApiGate.Core.Identity.UserStatus.Active }, CancellationToken.None)).Ok);
        }

        Assert.True((await Gateway.Users.UpdateAsync(email, new UserChanges { Status = ApiGate.Core.Identity.UserStatus.Suspended }, CancellationToken.None)).Ok);

        // Act
        using var client = CookieClient();
        var login = await PostFormAsync(client, "/portal/login", "login", ("Email", email), ("Password", Password));
        var earlierSession = await before.GetAsync("/portal/plans");

        // Assert
        Assert.Equal(HttpStatusCode.Unauthorized, login.StatusCode);
        Assert.Equal("This account is suspended. Please contact the operator.", TextOf(await login.Content.ReadAsStringAsync(), "message-error"));
        Assert.StartsWith("/portal/login", earlierSession.Headers.Location!.OriginalString, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_OnBillingHoldAndRenamedThroughTheAdminApi_StillReachesThePlansPageAndThePaymentReactivates()
    {
        // Arrange: a customer billing suspended for a failed payment, whom the operator then renames (PATCH /admin/users)
        const string email = "renamed@customer.example";
        using var before = await SignedInAsync(email);
        var (user, customer, t) = await SubscribedAndPaymentFailedAsync(before, email, "n");
        var token = (await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync("tests", CancellationToken.None)).Value!.Token;
        var renamed = await Admin.AdminTestBase.SendAsync(Gateway, token, HttpMethod.Patch, "/users/" + user.Id, new { name = "Renamed Customer" });
        Assert.Equal(HttpStatusCode.OK, renamed.Status);

        // Act
        using var client = CookieClient();
        var login = await PostFormAsync(client, "/portal/login", "login", ("Email", email), ("Password", Password));
        var dashboard = await client.GetAsync("/portal");
        var plans = await client.GetAsync("/portal/plans");
        var paid = StripeEvents.Subscription("evt_n3", "customer.subscription.updated", t + 20, "sub_n", customer, "active", t, "price_pro");
        var payment = await BillingHarness.PostWebhookAsync(Gateway, paid);

        // Assert: still on hold (the name is not the user's status), so the payment makes them active again
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        Assert.Equal("/portal/plans", dashboard.Headers.Location!.OriginalString);
        Assert.StartsWith("Your account is suspended because a payment failed", TextOf(await plans.Content.ReadAsStringAsync(), "message-billing-hold"),
            StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, payment.Status);
        var after = (await Gateway.Users.GetAsync(email, CancellationToken.None)).Value!;
        Assert.Equal(ApiGate.Core.Identity.UserStatus.Active, after.Status);
        Assert.Equal("Renamed Customer", after.Name);
    }

    /// <summary>
    /// The signed-in customer subscribes to pro (checkout, then Stripe's signed webhook) and the renewal's payment fails,
    /// so billing suspends them; the event ids and subscription id end in <paramref name="tag"/>. Returns the user, their
    /// Stripe customer id and the checkout event's time.
    /// </summary>
    private async Task<(ApiGate.Core.Identity.UserDefinition User, string Customer, long At)> SubscribedAndPaymentFailedAsync(HttpClient client, string email, string tag)
    {
        Assert.Equal(HttpStatusCode.Redirect, (await PostFormAsync(client, "/portal/plans", "subscribe-pro")).StatusCode);
        var user = (await Gateway.Users.GetAsync(email, CancellationToken.None)).Value!;
        var customer = (await Gateway.Store.FindBillingCustomerAsync(user.Id, CancellationToken.None))!.CustomerId;
        var t = DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 60;
        Assert.Equal(HttpStatusCode.OK, (await BillingHarness.PostWebhookAsync(Gateway, StripeEvents.CheckoutCompleted($"evt_{tag}1", t, customer, "sub_" + tag, user.Id, "pro"))).Status);
        Assert.Equal(HttpStatusCode.OK, (await BillingHarness.PostWebhookAsync(Gateway, StripeEvents.PaymentFailed($"evt_{tag}2", t + 10, customer, "sub_" + tag))).Status);
        return (user, customer, t);
    }

    /// <summary>payg: 0 a month, a quota of 1,000, overage at 1 cent sold through the metered price <c>price_metered</c> alone.</summary>
    private async Task CreatePaygAsync()
    {
        _stripe.Prices.Add("price_metered");
        Assert.True((await Gateway.Plans.CreateAsync(new PlanInput
        {
            Id = "payg", Name = "Pay as you go", PriceMonthly = 0, RequestsPerMonth = 1000, OveragePrice = 1, Visible = true,
            StripeOveragePriceId = "price_metered", StripeMeterEvent = "api_overage",
        }, CancellationToken.None)).Ok);
    }

    /// <summary>A verified portal account, logged in over HTTP (cookie kept by the client).</summary>
    private async Task<HttpClient> SignedInAsync(string email)
    {
        var accounts = Gateway.Service<PortalAccountService>();
        Assert.True((await accounts.SignUpAsync(email, Password, Gateway.Url, "127.0.0.1", CancellationToken.None)).Ok);
        var link = TestSmtpServer.LinkIn(await Smtp.NextToAsync(email), "/portal/verify");
        Assert.True((await accounts.VerifyAsync(link[(link.IndexOf("token=", StringComparison.Ordinal) + 6)..], CancellationToken.None)).Ok);
        var client = CookieClient();
        var login = await PostFormAsync(client, "/portal/login", "login", ("Email", email), ("Password", Password));
        Assert.Equal(HttpStatusCode.Redirect, login.StatusCode);
        return client;
    }

    public void Dispose() => _stripe.DisposeAsync().AsTask().GetAwaiter().GetResult();
}
