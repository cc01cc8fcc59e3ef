using System.Net;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>
/// A plan priced 0 a month that charges for overage, sold through Stripe with its metered price alone: the checkout, the
/// webhooks that give the plan, the overage reported for it, and the plan's prices changed while customers subscribe.
/// </summary>
public sealed class MeteredOnlyPlanTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const string Success = "https://portal.example.com/portal/plans?checkout=done";
    private const string Cancel = "https://portal.example.com/portal/plans";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Checkout_PlanPricedZeroWithOverage_OnlyTheMeteredPriceThenSubscribedAndOverageReported()
    {
        // Arrange
        await using var upstream = await TestUpstream.StartAsync();
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        await CreatePaygAsync(h);
        var user = (await h.Gateway.Users.CreateAsync(new UserChanges { Email = "pay@example.com" }, CancellationToken.None)).Value!;
        var token = await h.AdminTokenAsync();

        // Act: the operator starts the checkout, the customer pays it (nothing to pay now), Stripe says so
        var checkout = await h.PostAdminAsync(token, "/billing/checkout", new { user = "pay@example.com", plan = "payg", success_url = Success, cancel_url = Cancel });
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var completed = await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_payg1", now - 10, "cus_fake1", "sub_payg", user.Id, "payg", "no_payment_required"));
        var renewed = await h.PostWebhookAsync(StripeEvents.Subscription("evt_payg2", "customer.subscription.updated", now - 5, "sub_payg", "cus_fake1", "active", now - 10,
            StartedFor(user.Id, "payg"), "price_metered"));
        var key = await KeyAndRouteAsync(h, upstream, "pay@example.com");
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(h, key)).StatusCode);
        }

        await WaitUntilAsync(async () => (await h.Gateway.Store.GetOverageTotalsAsync(CancellationToken.None)).SentRows == 1);

        // Assert: one line item, the metered price, with no quantity; no monthly price
        Assert.Equal(HttpStatusCode.OK, checkout.Status);
        var session = Assert.Single(h.Stripe.To("/v1/checkout/sessions"));
        Assert.Equal("subscription", session.Form["mode"]);
        Assert.Equal("cus_fake1", session.Form["customer"]);
        Assert.Equal("price_metered", session.Form["line_items[0][price]"]);
        Assert.Equal(["line_items[0][price]"], session.Form.Keys.Where(k => k.StartsWith("line_items", StringComparison.Ordinal)).ToArray());
        Assert.Equal("payg", session.Form["subscription_data[metadata][apigate_plan]"]);

        Assert.Equal((HttpStatusCode.OK, "plan payg"), (completed.Status, completed.Body.GetProperty("message").GetString()));
        Assert.Equal((HttpStatusCode.OK, "plan payg"), (renewed.Status, renewed.Body.GetProperty("message").GetString()));
        Assert.Equal("payg", (await h.UserAsync(user.Id)).PlanId);
        var customer = (await h.Gateway.Store.FindBillingCustomerAsync(user.Id, CancellationToken.None))!;
        Assert.Equal(("cus_fake1", "sub_payg", "active"), (customer.CustomerId, customer.SubscriptionId, customer.SubscriptionStatus));

        var billed = Assert.Single(h.Stripe.Billed);
        Assert.Equal("api_overage", billed.Form["event_name"]);
        Assert.Equal("cus_fake1", billed.Form["payload[stripe_customer_id]"]);
        Assert.Equal("3", billed.Form["payload[value]"]);
    }

    [Fact]
    public async Task Checkout_PlanFreeInBothPrices_Answers422WithoutCallingStripe()
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        await h.CreatePlanAsync(new PlanInput { Id = "hobby", Name = "Hobby", PriceMonthly = 0, RequestsPerMonth = 100 });
        await h.Gateway.Users.CreateAsync(new UserChanges { Email = "zoe@example.com" }, CancellationToken.None);
        var token = await h.AdminTokenAsync();

        // Act
        var response = await h.PostAdminAsync(token, "/billing/checkout", new { user = "zoe@example.com", plan = "hobby", success_url = Success, cancel_url = Cancel });

        // Assert
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.Status);
        var error = response.Json.GetProperty("errors")[0];
        Assert.Equal("plan 'hobby' has no stripe_price_id and no stripe_overage_price_id: it is free, there is nothing to buy through billing",
            error.GetProperty("detail").GetString());
        Assert.Empty(h.Stripe.Requests);
        Assert.Null(await h.Gateway.Store.FindBillingCustomerAsync((await h.Gateway.Store.FindUserAsync("zoe@example.com", CancellationToken.None))!.Id, CancellationToken.None));
    }

    [Fact]
    public async Task OveragePriceRemoved_WhileSubscribed_SubscriberStaysOnThePlanAndItsEndMovesThemToTheDefault()
    {
        // Arrange: a customer subscribed to payg
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        await CreatePaygAsync(h);
        var userId = await h.CreateCustomerAsync("rem@example.com", "cus_rem");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.Equal("plan payg", (await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_rem1", now - 20, "cus_rem", "sub_rem", userId, "payg"))).Body.GetProperty("message").GetString());

        // Act: the operator stops billing payg's overage; Stripe renews the subscription, later it is cancelled
        var removed = await h.Gateway.Plans.UpdateAsync("payg", new PlanInput { StripeOveragePriceId = "", StripeMeterEvent = "" }, CancellationToken.None);
        var renewed = await h.PostWebhookAsync(StripeEvents.Subscription("evt_rem2", "customer.subscription.updated", now - 10, "sub_rem", "cus_rem", "active", now - 20,
            StartedFor(userId, "payg"), "price_metered"));
        var planAfterRenewal = (await h.UserAsync(userId)).PlanId;
        var ended = await h.PostWebhookAsync(StripeEvents.Subscription("evt_rem3", "customer.subscription.deleted", now - 5, "sub_rem", "cus_rem", "canceled", now - 20,
            StartedFor(userId, "payg"), "price_metered"));

        // Assert: the renewal is not refused (Stripe would retry it for days), the plan stays; the end is applied as usual
        Assert.True(removed.Ok, removed.Error?.ToString());
        Assert.Equal((HttpStatusCode.OK, "processed", "plan payg"),
            (renewed.Status, renewed.Body.GetProperty("result").GetString(), renewed.Body.GetProperty("message").GetString()));
        Assert.Equal("payg", planAfterRenewal);
        Assert.Equal((HttpStatusCode.OK, "subscription ended: plan free"), (ended.Status, ended.Body.GetProperty("message").GetString()));
        Assert.Equal("free", (await h.UserAsync(userId)).PlanId);
    }

    [Fact]
    public async Task PlanGivenAMonthlyPrice_NeedsItsStripePriceThenSubscribersStayAndNewCheckoutsChargeBoth()
    {
        // Arrange: a customer subscribed to payg with its metered price alone
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        h.Stripe.Prices.Add("price_payg_base");
        await CreatePaygAsync(h);
        var userId = await h.CreateCustomerAsync("old@example.com", "cus_old");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.Equal("plan payg", (await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_chg1", now - 20, "cus_old", "sub_old", userId, "payg"))).Body.GetProperty("message").GetString());
        await h.Gateway.Users.CreateAsync(new UserChanges { Email = "new@example.com" }, CancellationToken.None);
        var token = await h.AdminTokenAsync();

        // Act
        var withoutPrice = await h.Gateway.Plans.UpdateAsync("payg", new PlanInput { PriceMonthly = 900 }, CancellationToken.None);
        var withPrice = await h.Gateway.Plans.UpdateAsync("payg", new PlanInput { PriceMonthly = 900, StripePriceId = "price_payg_base" }, CancellationToken.None);
        var renewed = await h.PostWebhookAsync(StripeEvents.Subscription("evt_chg2", "customer.subscription.updated", now - 10, "sub_old", "cus_old", "active", now - 20,
            StartedFor(userId, "payg"), "price_metered"));
        var checkout = await h.PostAdminAsync(token, "/billing/checkout", new { user = "new@example.com", plan = "payg", success_url = Success, cancel_url = Cancel });

        // Assert: a monthly price needs the Stripe price that charges it
        Assert.False(withoutPrice.Ok);
        Assert.Equal(("stripe_price_id", "a plan with a monthly price (price_monthly above 0) billed for overage needs its subscription price (stripe_price_id) too"),
            (withoutPrice.Error!.Field, withoutPrice.Error.Message));
        Assert.True(withPrice.Ok, withPrice.Error?.ToString());
        // the subscriber from before keeps the plan (not refused) until their subscription is changed in Stripe
        Assert.Equal((HttpStatusCode.OK, "plan payg"), (renewed.Status, renewed.Body.GetProperty("message").GetString()));
        Assert.Equal("payg", (await h.UserAsync(userId)).PlanId);
        // a new checkout charges the monthly price and the metered one
        Assert.Equal(HttpStatusCode.OK, checkout.Status);
        var session = Assert.Single(h.Stripe.To("/v1/checkout/sessions"));
        Assert.Equal(("price_payg_base", "1", "price_metered"),
            (session.Form["line_items[0][price]"], session.Form["line_items[0][quantity]"], session.Form["line_items[1][price]"]));
        Assert.False(session.Form.ContainsKey("line_items[1][quantity]"));
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task CreatePlan_MeteredPriceAnotherMeteredOnlyPlanIsSoldWith_RefusedNamingThatPlan(string engine)
    {
        // Arrange: subscription events name only the price, so two plans sold with one metered price alone could not be told apart
        await using var h = await BillingHarness.StartAsync(engines, engine);
        await CreatePaygAsync(h);

        // Act
        var second = await h.Gateway.Plans.CreateAsync(new PlanInput
        {
            Id = "payg2", Name = "Payg 2", OveragePrice = 2, StripeOveragePriceId = "price_metered", StripeMeterEvent = "api_overage",
        }, CancellationToken.None);
        var paidSharingIt = await h.Gateway.Plans.CreateAsync(new PlanInput
        {
            Id = "scale", Name = "Scale", PriceMonthly = 4900, OveragePrice = 1,
            StripePriceId = "price_metered_base", StripeOveragePriceId = "price_metered", StripeMeterEvent = "api_overage",
        }, CancellationToken.None);

        // Assert: a paid plan may share the metered price (its subscription carries its own monthly price too)
        Assert.False(second.Ok);
        Assert.Equal(("stripe_overage_price_id",
                "stripe_overage_price_id 'price_metered' is plan 'payg''s already: a Stripe price must name one plan (its subscription events say only the price)"),
            (second.Error!.Field, second.Error.Message));
        Assert.True(paidSharingIt.Ok, paidSharingIt.Error?.ToString());
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task WritePlan_MonthlyPriceThatIsAnotherPlansMeteredPriceOrTheOtherWayRound_RefusedNamingThatPlan(string engine)
    {
        // Arrange: a subscription carrying a price that is one plan's monthly price and another's metered price would
        // name both plans
        await using var h = await BillingHarness.StartAsync(engines, engine);
        await CreatePaygAsync(h);
        await h.CreatePlanAsync(new PlanInput
        {
            Id = "scale", Name = "Scale", PriceMonthly = 4900, OveragePrice = 1,
            StripePriceId = "price_scale", StripeOveragePriceId = "price_scale_meter", StripeMeterEvent = "api_overage",
        });

        // Act
        var monthlyIsPaygsMeter = await h.Gateway.Plans.CreateAsync(new PlanInput
        {
            Id = "growth", Name = "Growth", PriceMonthly = 9900, StripePriceId = "price_metered",
        }, CancellationToken.None);
        var monthlyIsScalesMeter = await h.Gateway.Plans.CreateAsync(new PlanInput
        {
            Id = "growth", Name = "Growth", PriceMonthly = 9900, StripePriceId = "price_scale_meter",
        }, CancellationToken.None);
        var meterIsScalesMonthly = await h.Gateway.Plans.UpdateAsync("payg", new PlanInput { StripeOveragePriceId = "price_scale" }, CancellationToken.None);

        // Assert
        Assert.Equal(("stripe_price_id", "stripe_price_id 'price_metered' is plan 'payg''s already: a Stripe price must name one plan (its subscription events say only the price)"),
            (monthlyIsPaygsMeter.Error?.Field, monthlyIsPaygsMeter.Error?.Message));
        Assert.Equal(("stripe_price_id", "stripe_price_id 'price_scale_meter' is plan 'scale''s already: a Stripe price must name one plan (its subscription events say only the price)"),
            (monthlyIsScalesMeter.Error?.Field, monthlyIsScalesMeter.Error?.Message));
        Assert.Equal(("stripe_overage_price_id", "stripe_overage_price_id 'price_scale' is plan 'scale''s already: a Stripe price must name one plan (its subscription events say only the price)"),
            (meterIsScalesMonthly.Error?.Field, meterIsScalesMonthly.Error?.Message));
        Assert.Null(await h.Gateway.Store.FindPlanAsync("growth", CancellationToken.None));
        Assert.Equal("price_metered", (await h.Gateway.Store.FindPlanAsync("payg", CancellationToken.None))!.StripeOveragePriceId);
    }

    /// <summary>payg: 0 a month, a quota of 2, overage at 1 cent billed through the metered price <c>price_metered</c> alone.</summary>
    private static Task CreatePaygAsync(BillingHarness h) =>
        h.CreatePlanAsync(new PlanInput
        {
            Id = "payg", Name = "Pay as you go", PriceMonthly = 0, RequestsPerMonth = 2, OveragePrice = 1, Visible = true,
            StripeOveragePriceId = "price_metered", StripeMeterEvent = "api_overage",
        });

    private static Dictionary<string, string> StartedFor(string userId, string planId) => new() { ["apigate_user"] = userId, ["apigate_plan"] = planId };

    private static async Task<string> KeyAndRouteAsync(BillingHarness h, TestUpstream upstream, string email)
    {
        var key = await h.Gateway.Keys.CreateAsync(new KeyChanges { User = email }, CancellationToken.None);
        Assert.True(key.Ok, key.Error?.ToString());
        await h.Gateway.AddUpstreamAsync("backend", upstream.Url);
        await h.Gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true });
        await h.Gateway.ReloadAsync();
        return key.Value!.FullKey;
    }

    private static async Task<HttpResponseMessage> SendAsync(BillingHarness h, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, h.Gateway.Url + "/api/things");
        request.Headers.Add("X-API-Key", key);
        return await h.Gateway.Client.SendAsync(request);
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> done)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!await done())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached in time");
            await Task.Delay(50);
        }
    }
}
