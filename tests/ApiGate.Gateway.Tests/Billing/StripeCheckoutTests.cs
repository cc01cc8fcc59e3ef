using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary><c>POST /admin/billing/checkout</c> and <c>/admin/billing/portal</c> against a fake Stripe: what is sent, and Stripe's errors.</summary>
public sealed class StripeCheckoutTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const string Success = "https://portal.example.com/portal/plans?checkout=done";
    private const string Cancel = "https://portal.example.com/portal/plans";

    [Fact]
    public async Task Checkout_PlanWithPrices_CreatesCustomerOnceAndSessionInSubscriptionModeWithoutChangingThePlan()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        await h.CreatePlanAsync(new PlanInput
        {
            Id = "metered", Name = "Metered", RequestsPerMonth = 10, OveragePrice = 1,
            StripePriceId = "price_metered_base", StripeOveragePriceId = "price_metered", StripeMeterEvent = "api_overage",
        });
        var user = await h.Gateway.Users.CreateAsync(new UserChanges { Email = "kim@example.com" }, CancellationToken.None);
        var token = await h.AdminTokenAsync();

        // Act
        var first = await h.PostAdminAsync(token, "/billing/checkout", new { user = "kim@example.com", plan = "metered", success_url = Success, cancel_url = Cancel });
        var second = await h.PostAdminAsync(token, "/billing/checkout", new { user = "kim@example.com", plan = "pro", success_url = Success, cancel_url = Cancel });

        // Assert
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.StartsWith("https://checkout.stripe.com/c/pay/cs_test_", first.Json.GetProperty("data").GetProperty("url").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, second.Status);

        var customer = Assert.Single(h.Stripe.To("/v1/customers"));
        Assert.Equal("apigate_customer_" + user.Value!.Id, customer.IdempotencyKey);
        Assert.Equal("kim@example.com", customer.Form["email"]);
        Assert.Equal(user.Value.Id, customer.Form["metadata[apigate_user]"]);

        var session = h.Stripe.To("/v1/checkout/sessions").First();
        Assert.Equal("subscription", session.Form["mode"]);
        Assert.Equal("cus_fake1", session.Form["customer"]);
        Assert.Equal(user.Value.Id, session.Form["client_reference_id"]);
        Assert.Equal("price_metered_base", session.Form["line_items[0][price]"]);
        Assert.Equal("1", session.Form["line_items[0][quantity]"]);
        Assert.Equal("price_metered", session.Form["line_items[1][price]"]);
        Assert.False(session.Form.ContainsKey("line_items[1][quantity]"));
        Assert.Equal("metered", session.Form["metadata[apigate_plan]"]);
        Assert.Equal("metered", session.Form["subscription_data[metadata][apigate_plan]"]);
        Assert.Equal(Success, session.Form["success_url"]);
        Assert.Equal(Cancel, session.Form["cancel_url"]);
        Assert.StartsWith("apigate_checkout_", session.IdempotencyKey, StringComparison.Ordinal);

        Assert.Equal("free", (await h.UserAsync(user.Value.Id)).PlanId); // only the webhook changes it
        Assert.Equal("cus_fake1", (await h.Gateway.Store.FindBillingCustomerAsync(user.Value.Id, CancellationToken.None))!.CustomerId);
    }

    [Fact]
    public async Task Checkout_AnEarlierCheckoutNotPaidYet_ExpiredAtStripeSoOnlyTheNewestCanStartASubscription()
    {
        // Arrange: a checkout for pro started (in one tab, say) and left unpaid
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        await h.Gateway.Users.CreateAsync(new UserChanges { Email = "pia@example.com" }, CancellationToken.None);
        var token = await h.AdminTokenAsync();
        var first = await h.PostAdminAsync(token, "/billing/checkout", new { user = "pia@example.com", plan = "pro", success_url = Success, cancel_url = Cancel });
        Assert.Equal(HttpStatusCode.OK, first.Status);

        // Act: a checkout for team (another tab) before the first is paid
        var second = await h.PostAdminAsync(token, "/billing/checkout", new { user = "pia@example.com", plan = "team", success_url = Success, cancel_url = Cancel });

        // Assert: paying the first page can no longer start a subscription beside the second one
        Assert.Equal(HttpStatusCode.OK, second.Status);
        var firstId = first.Json.GetProperty("data").GetProperty("id").GetString()!;
        var secondId = second.Json.GetProperty("data").GetProperty("id").GetString()!;
        Assert.Equal("expired", h.Stripe.CheckoutSessions[firstId].Status);
        Assert.Equal("open", h.Stripe.CheckoutSessions[secondId].Status);
    }

    [Fact]
    public async Task Checkout_PriceStripeDoesNotKnow_Answers422NamingPlanAndPrice()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        await h.CreatePlanAsync(new PlanInput { Id = "ghost", Name = "Ghost", StripePriceId = "price_deleted_in_stripe" });
        await h.Gateway.Users.CreateAsync(new UserChanges { Email = "lee@example.com" }, CancellationToken.None);
        var token = await h.AdminTokenAsync();

        // Act
        var response = await h.PostAdminAsync(token, "/billing/checkout", new { user = "lee@example.com", plan = "ghost", success_url = Success, cancel_url = Cancel });

        // Assert
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.Status);
        var detail = response.Json.GetProperty("errors")[0].GetProperty("detail").GetString()!;
        Assert.Contains("plan 'ghost'", detail, StringComparison.Ordinal);
        Assert.Contains("No such price: 'price_deleted_in_stripe'", detail, StringComparison.Ordinal);
        Assert.Equal("free", (await h.Gateway.Store.FindUserAsync("lee@example.com", CancellationToken.None))!.PlanId);
    }

    [Theory]
    [InlineData(402, HttpStatusCode.UnprocessableEntity, "declined")]
    [InlineData(500, HttpStatusCode.BadGateway, "try again")]
    public async Task Checkout_StripeRefusesOrIsDown_ClearErrorAndPlanUnchanged(int stripeStatus, HttpStatusCode expected, string says)
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        await h.Gateway.Users.CreateAsync(new UserChanges { Email = "max@example.com" }, CancellationToken.None);
        var token = await h.AdminTokenAsync();
        h.Stripe.FailNext = ("/v1/checkout/sessions", stripeStatus);

        // Act
        var response = await h.PostAdminAsync(token, "/billing/checkout", new { user = "max@example.com", plan = "pro", success_url = Success, cancel_url = Cancel });

        // Assert
        Assert.Equal(expected, response.Status);
        Assert.Contains(says, response.Json.GetProperty("errors")[0].GetProperty("detail").GetString()!, StringComparison.Ordinal);
        Assert.Equal("free", (await h.Gateway.Store.FindUserAsync("max@example.com", CancellationToken.None))!.PlanId);
    }

    [Fact]
    public async Task Checkout_StripeDownWhileCreatingTheCustomer_NoCustomerIsRecorded()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.Gateway.Users.CreateAsync(new UserChanges { Email = "ned@example.com" }, CancellationToken.None);
        var token = await h.AdminTokenAsync();
        h.Stripe.FailNext = ("/v1/customers", 500);

        // Act
        var response = await h.PostAdminAsync(token, "/billing/checkout", new { user = "ned@example.com", plan = "pro", success_url = Success, cancel_url = Cancel });

        // Assert
        Assert.Equal(HttpStatusCode.BadGateway, response.Status);
        Assert.Null(await h.Gateway.Store.FindBillingCustomerAsync(user.Value!.Id, CancellationToken.None));
        Assert.Empty(h.Stripe.To("/v1/checkout/sessions"));
    }

    [Fact]
    public async Task Checkout_PlanWithoutStripePrice_Answers422()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        await h.Gateway.Users.CreateAsync(new UserChanges { Email = "ola@example.com" }, CancellationToken.None);
        var token = await h.AdminTokenAsync();

        // Act
        var response = await h.PostAdminAsync(token, "/billing/checkout", new { user = "ola@example.com", plan = "free", success_url = Success, cancel_url = Cancel });

        // Assert
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.Status);
        Assert.Contains("has no stripe_price_id", response.Json.GetProperty("errors")[0].GetProperty("detail").GetString()!, StringComparison.Ordinal);
        Assert.Empty(h.Stripe.Requests);
    }

    [Fact]
    public async Task Portal_BillingCustomer_ReturnsStripesBillingPortalUrl()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        await h.CreateCustomerAsync("pia@example.com", "cus_pia");
        var token = await h.AdminTokenAsync();

        // Act
        var response = await h.PostAdminAsync(token, "/billing/portal", new { user = "pia@example.com", return_url = Cancel });

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.Status);
        Assert.StartsWith("https://billing.stripe.com/p/session/", response.Json.GetProperty("data").GetProperty("url").GetString(), StringComparison.Ordinal);
        var sent = Assert.Single(h.Stripe.To("/v1/billing_portal/sessions"));
        Assert.Equal("cus_pia", sent.Form["customer"]);
        Assert.Equal(Cancel, sent.Form["return_url"]);
    }
}
