using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>
/// Whether a user pays is read with their key, so a subscription that starts or stops paying moves the store's identity
/// version (every instance then reads its keys again). A webhook that leaves the paying state as it was must not: Stripe
/// sends <c>customer.subscription.updated</c> for many changes that matter nothing here, and each would otherwise drop
/// every cached key of every instance.
/// </summary>
public sealed class SubscriptionIdentityVersionTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task SubscriptionUpdated_StillActiveOnTheSamePlan_IdentityVersionKeptWhilePastDueMovesIt(string engine)
    {
        // Arrange: a subscriber whose subscription started through checkout
        await using var h = await BillingHarness.StartAsync(engines, engine);
        await h.CreatePaygPlanAsync(3);
        var userId = await h.CreateCustomerAsync("steady@example.com", "cus_steady");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var started = await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_steady_start", now - 30, "cus_steady", "sub_steady", userId, "payg"));
        Assert.Equal((HttpStatusCode.OK, "plan payg"), (started.Status, started.Body.GetProperty("message").GetString()));
        var beforeUpdate = await IdentityVersionAsync(h);

        // Act 1: Stripe tells of an update that leaves the subscription active on the same price
        var unchanged = await h.PostWebhookAsync(StripeEvents.Subscription("evt_steady_update", "customer.subscription.updated", now - 20, "sub_steady", "cus_steady",
            "active", now - 30, "price_metered"));
        var afterUpdate = await IdentityVersionAsync(h);

        // Act 2: then one that stops it paying
        var pastDue = await h.PostWebhookAsync(StripeEvents.Subscription("evt_steady_late", "customer.subscription.updated", now - 10, "sub_steady", "cus_steady",
            "past_due", now - 30, "price_metered"));
        var afterPastDue = await IdentityVersionAsync(h);

        // Assert: the update was taken, but the paying state, plan and so the identity version stayed as they were
        Assert.Equal((HttpStatusCode.OK, "plan payg"), (unchanged.Status, unchanged.Body.GetProperty("message").GetString()));
        Assert.Equal("payg", (await h.UserAsync(userId)).PlanId);
        Assert.Equal(beforeUpdate, afterUpdate);

        // the read does see a change that matters: past due moves it
        Assert.Equal((HttpStatusCode.OK, "subscription past_due: plan unchanged"), (pastDue.Status, pastDue.Body.GetProperty("message").GetString()));
        Assert.NotEqual(afterUpdate, afterPastDue);
    }

    private static async Task<long> IdentityVersionAsync(BillingHarness h) => (await h.Gateway.Store.GetVersionsAsync(CancellationToken.None)).Identity;
}
