using System.Net;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Core.Quotas;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>
/// A route that meters more than one unit a request, on a plan whose overage is billed through Stripe: the units past
/// the quota are overage to bill only for a user whose subscription pays. Anyone else is held at the quota (402) and the
/// units one metered request ran past it count as used, never as overage: no outbox row, nothing billed.
/// </summary>
public sealed class MeteredOverageSubscriptionTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    [Fact]
    public async Task MeteredRoute_OverageBilledThroughStripe_UnsubscribedHeldWithNoOverageSubscriberBilledItsUnitsPastTheQuota()
    {
        // Arrange: a quota of 3 and a route billing 2 units a request; one user on the plan by hand (no subscription),
        // one whose Stripe subscription is active
        await using var upstream = await TestUpstream.StartAsync();
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        await h.CreatePaygPlanAsync(3, id: "metered", name: "Metered");
        await h.Gateway.AddUpstreamAsync("backend", upstream.Url);
        await h.Gateway.AddRouteAsync(new RouteInput
        {
            Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true, MeteringMode = "custom", MeteringExpr = "2",
        });
        var created = await h.Gateway.Users.CreateAsync(new UserChanges { Email = "byhand@example.com", Plan = "metered" }, CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        var heldUser = created.Value!.Id;
        var held = await KeyAsync(h, "byhand@example.com");
        var paidUser = await h.CreateCustomerAsync("paid@example.com", "cus_paid", plan: "metered", subscriptionStatus: "active");
        var paid = await KeyAsync(h, "paid@example.com");
        await h.Gateway.ReloadAsync();
        var period = QuotaPeriod.StartOf(DateTimeOffset.UtcNow);

        // Act 1: the user without a subscription: 2 units, 2 more (the quota of 3 now run past by 1), then one more
        var heldStatuses = new List<HttpStatusCode>();
        for (var i = 0; i < 2; i++)
        {
            using var response = await SendAsync(h, held);
            heldStatuses.Add(response.StatusCode);
        }

        using var refused = await SendAsync(h, held);
        var refusedCode = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")[0].GetProperty("code").GetString();

        // Act 2: the subscriber, the same three requests: 2 units, then 1 and 2 past the quota
        var paidStatuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await SendAsync(h, paid);
            paidStatuses.Add(response.StatusCode);
        }

        // (the usage of both reaches the store; the subscriber's overage is reported to Stripe)
        await Poll.UntilAsync(async () =>
            (await h.Gateway.Store.FindQuotaUsageAsync(heldUser, period, CancellationToken.None)).Used == 4
            && (await h.Gateway.Store.FindQuotaUsageAsync(paidUser, period, CancellationToken.None)).Used == 6
            && (await h.Gateway.Store.GetOverageTotalsAsync(CancellationToken.None)).SentUnits == 3,
            () => "usage or overage not stored and reported");
        var heldUsage = await h.Gateway.Store.FindQuotaUsageAsync(heldUser, period, CancellationToken.None);
        var paidUsage = await h.Gateway.Store.FindQuotaUsageAsync(paidUser, period, CancellationToken.None);
        var totals = await h.Gateway.Store.GetOverageTotalsAsync(CancellationToken.None);
        var sent = await h.Gateway.Store.ListOverageAsync(sent: true, 100, CancellationToken.None);

        // Assert: held at the quota with the 402 a plan without overage gives; the unit past the quota used, not overage
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK], heldStatuses);
        Assert.Equal(HttpStatusCode.PaymentRequired, refused.StatusCode);
        Assert.Equal("quota_exceeded", refusedCode);
        Assert.Equal((4L, 0L), (heldUsage.Used, heldUsage.Overage));
        Assert.DoesNotContain(sent, r => r.UserId == heldUser);

        // the subscriber let past the quota, and exactly its 3 units past it in the outbox and billed to its customer
        Assert.Equal(Enumerable.Repeat(HttpStatusCode.OK, 3), paidStatuses);
        Assert.Equal((6L, 3L), (paidUsage.Used, paidUsage.Overage));
        Assert.Equal((0L, 0L, 3L, 0L), (totals.PendingRows, totals.PendingUnits, totals.SentUnits, totals.FailingRows));
        Assert.All(sent, r => Assert.Equal((paidUser, "cus_paid", "api_overage"), (r.UserId, r.CustomerId, r.MeterEvent)));
        Assert.Equal(3L, sent.Sum(r => r.Units));
        Assert.All(h.Stripe.Billed, b => Assert.Equal("cus_paid", b.Form["payload[stripe_customer_id]"]));
        Assert.Equal(3L, h.Stripe.Billed.Sum(b => long.Parse(b.Form["payload[value]"], System.Globalization.CultureInfo.InvariantCulture)));
    }

    private static async Task<string> KeyAsync(BillingHarness h, string email)
    {
        var key = await h.Gateway.Keys.CreateAsync(new KeyChanges { User = email }, CancellationToken.None);
        Assert.True(key.Ok, key.Error?.ToString());
        return key.Value!.FullKey;
    }

    private static async Task<HttpResponseMessage> SendAsync(BillingHarness h, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, h.Gateway.Url + "/api/things");
        request.Headers.Add("X-API-Key", key);
        return await h.Gateway.Client.SendAsync(request);
    }
}
