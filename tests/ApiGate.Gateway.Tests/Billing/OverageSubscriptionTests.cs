using System.Net;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Identity;
using ApiGate.Gateway.Identity.Jwt;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>
/// With billing on, a plan that charges its overage through a Stripe metered price lets requests past its quota through
/// only for users whose subscription pays: anyone else is held to the quota (402), as nothing would bill their overage.
/// </summary>
public sealed class OverageSubscriptionTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task Quota_PlanBilledThroughStripe_UnsubscribedHeldSubscriberGetsOverageReportedAndIsHeldOnceItEnds(string engine)
    {
        // Arrange: the default plan has a quota of 3 and overage billed through Stripe
        await using var upstream = await TestUpstream.StartAsync();
        await using var h = await BillingHarness.StartAsync(engines, engine);
        await h.CreatePaygPlanAsync(3, isDefault: true);
        await h.Gateway.AddUpstreamAsync("backend", upstream.Url);
        await h.Gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true });
        var held = await KeyAsync(h, "byhand@example.com", "payg");
        var paidUser = await h.CreateCustomerAsync("paid@example.com", "cus_paid");
        var paid = await KeyAsync(h, "paid@example.com", null);
        await h.Gateway.ReloadAsync();

        // Act 1: a user put on the plan by hand, with no subscription
        var heldStatuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            heldStatuses.Add((await SendAsync(h, held)).StatusCode);
        }

        using var refused = await SendAsync(h, held);
        var refusedBody = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;

        // Act 2: a user who subscribes to the plan (Stripe's signed webhook), then uses 5 requests
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var started = await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_start", now - 10, "cus_paid", "sub_paid", paidUser, "payg"));
        await h.Gateway.ReloadAsync();
        var paidStatuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            paidStatuses.Add((await SendAsync(h, paid)).StatusCode);
        }

        await WaitUntilAsync(async () => (await h.Gateway.Store.GetOverageTotalsAsync(CancellationToken.None)).SentRows == 1);

        // Act 3: the subscription ends; the user stays on payg (the default plan), now without a subscription
        var ended = await h.PostWebhookAsync(StripeEvents.Subscription("evt_end", "customer.subscription.deleted", now - 5, "sub_paid", "cus_paid", "canceled", now - 10,
            "price_metered"));
        await h.Gateway.ReloadAsync();
        using var afterEnd = await SendAsync(h, paid);
        var afterEndBody = JsonDocument.Parse(await afterEnd.Content.ReadAsStringAsync()).RootElement;

        // Assert: held at the quota, with the quota answer a plan without overage gives
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK], heldStatuses);
        Assert.Equal(HttpStatusCode.PaymentRequired, refused.StatusCode);
        Assert.Equal("quota_exceeded", refusedBody.GetProperty("errors")[0].GetProperty("code").GetString());
        Assert.Equal("3", refused.Headers.GetValues("X-Quota-Limit").Single());
        Assert.Equal("0", refused.Headers.GetValues("X-Quota-Remaining").Single());

        // the subscriber got past the quota, and exactly the 2 requests past it were billed to their customer
        Assert.Equal((HttpStatusCode.OK, "plan payg"), (started.Status, started.Body.GetProperty("message").GetString()));
        Assert.Equal(Enumerable.Repeat(HttpStatusCode.OK, 5), paidStatuses);
        var billed = Assert.Single(h.Stripe.Billed);
        Assert.Equal(("api_overage", "cus_paid", "2"), (billed.Form["event_name"], billed.Form["payload[stripe_customer_id]"], billed.Form["payload[value]"]));

        // once the subscription ended, held again
        Assert.Equal((HttpStatusCode.OK, "subscription ended: plan payg"), (ended.Status, ended.Body.GetProperty("message").GetString()));
        Assert.Equal("payg", (await h.UserAsync(paidUser)).PlanId);
        Assert.Equal(HttpStatusCode.PaymentRequired, afterEnd.StatusCode);
        Assert.Equal("quota_exceeded", afterEndBody.GetProperty("errors")[0].GetProperty("code").GetString());
        var totals = await h.Gateway.Store.GetOverageTotalsAsync(CancellationToken.None);
        Assert.Equal((0L, 1L, 2L), (totals.PendingRows, totals.SentRows, totals.SentUnits));
    }

    [Fact]
    public async Task Quota_PlanBilledThroughStripe_SubscriptionPastDue_HeldAtTheQuota()
    {
        // Arrange: a subscriber on a plan with a quota of 2 whose subscription then falls past due
        await using var upstream = await TestUpstream.StartAsync();
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        await h.CreatePaygPlanAsync(2);
        await h.Gateway.AddUpstreamAsync("backend", upstream.Url);
        await h.Gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true });
        var userId = await h.CreateCustomerAsync("late@example.com", "cus_late");
        var key = await KeyAsync(h, "late@example.com", null);
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.Equal(HttpStatusCode.OK, (await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_s", now - 20, "cus_late", "sub_late", userId, "payg"))).Status);
        await h.Gateway.ReloadAsync();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(h, key)).StatusCode);
        }

        // Act
        var pastDue = await h.PostWebhookAsync(StripeEvents.Subscription("evt_pd", "customer.subscription.updated", now - 10, "sub_late", "cus_late", "past_due", now - 20,
            "price_metered"));
        await h.Gateway.ReloadAsync();
        using var response = await SendAsync(h, key);

        // Assert: the plan stays (Stripe still retries the payment), its overage does not
        Assert.Equal((HttpStatusCode.OK, "subscription past_due: plan unchanged"), (pastDue.Status, pastDue.Body.GetProperty("message").GetString()));
        Assert.Equal("payg", (await h.UserAsync(userId)).PlanId);
        Assert.Equal(HttpStatusCode.PaymentRequired, response.StatusCode);
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("quota_exceeded", body.GetProperty("errors")[0].GetProperty("code").GetString());
    }

    [Fact]
    public async Task Quota_OverageBilledByTheOperator_UserWithoutSubscriptionStillGetsOverage()
    {
        // Arrange: billing on, but the plan's overage has no Stripe price: the operator bills it from usage reports
        await using var upstream = await TestUpstream.StartAsync();
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        await h.CreatePlanAsync(new PlanInput { Id = "manual", Name = "Manual", RequestsPerMonth = 2, OveragePrice = 1 });
        await h.Gateway.AddUpstreamAsync("backend", upstream.Url);
        await h.Gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true });
        var key = await KeyAsync(h, "manual@example.com", "manual");
        await h.Gateway.ReloadAsync();

        // Act
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++)
        {
            statuses.Add((await SendAsync(h, key)).StatusCode);
        }

        // Assert
        Assert.Equal(Enumerable.Repeat(HttpStatusCode.OK, 4), statuses);
    }

    [PostgresFact]
    public async Task Quota_PlanBilledThroughStripe_WebhookOnInstanceOne_InstanceTwoWithTheKeyCachedLetsOverageThenHoldsAgain()
    {
        // Arrange: two gateways on one PostgreSQL database, billing on in both. Instance 2 polls the config version only
        // once an hour, so whatever change it picks up came by notification. Every API request goes to instance 2 (instance
        // 1 only takes the webhooks): without Redis each instance counts the quota on its own, so sending them all to one
        // instance is what makes "the 4th request is over the quota of 3" exact.
        await using var upstream = await TestUpstream.StartAsync();
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Postgres);
        await h.CreatePaygPlanAsync(3, isDefault: true);
        await h.Gateway.AddUpstreamAsync("backend", upstream.Url);
        await h.Gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true });
        var userId = await h.CreateCustomerAsync("scaled@example.com", "cus_scaled", plan: "payg");
        var key = await KeyAsync(h, "scaled@example.com", null);
        await using var two = await h.StartGatewayAsync(null, o => o.ConfigPollInterval = TimeSpan.FromHours(1));
        var lookups = () => Interlocked.Read(ref two.Service<ApiKeyAuthenticator>().Lookups);

        // Act 1: instance 2 serves the quota, refuses the 4th request, and has the key in memory from then on
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            statuses.Add((await SendAsync(two, key)).StatusCode);
        }

        using var refused = await SendAsync(two, key);
        var refusedCode = await ErrorCodeAsync(refused);
        var lookupsBefore = lookups();

        // Act 2: the user subscribes, through instance 1
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var started = await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_scaled_start", now - 10, "cus_scaled", "sub_scaled", userId, "payg"));
        await Poll.UntilAsync(async () =>
        {
            using var past = await SendAsync(two, key);
            return past.StatusCode == HttpStatusCode.OK;
        }, () => "instance 2 still holds the subscriber at the quota");
        var lookupsAfterStart = lookups();

        // Act 3: the subscription ends, through instance 1
        var ended = await h.PostWebhookAsync(StripeEvents.Subscription("evt_scaled_end", "customer.subscription.deleted", now - 5, "sub_scaled", "cus_scaled", "canceled",
            now - 10, "price_metered"));
        using var heldAgain = await UntilStatusAsync(two, key, HttpStatusCode.PaymentRequired);
        var heldAgainCode = await ErrorCodeAsync(heldAgain);

        // Assert: held at the quota with the key cached (one store read for the four requests)
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK], statuses);
        Assert.Equal(HttpStatusCode.PaymentRequired, refused.StatusCode);
        Assert.Equal("quota_exceeded", refusedCode);
        Assert.Equal(1, lookupsBefore);

        // the subscription reached instance 2 through the database, and it read the key again for it
        Assert.Equal((HttpStatusCode.OK, "plan payg"), (started.Status, started.Body.GetProperty("message").GetString()));
        Assert.Equal(2, lookupsAfterStart);

        // once it ended, instance 2 holds the user at the quota again
        Assert.Equal((HttpStatusCode.OK, "subscription ended: plan payg"), (ended.Status, ended.Body.GetProperty("message").GetString()));
        Assert.Equal(HttpStatusCode.PaymentRequired, heldAgain.StatusCode);
        Assert.Equal("quota_exceeded", heldAgainCode);
        Assert.Equal("3", heldAgain.Headers.GetValues("X-Quota-Limit").Single());
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task Quota_PlanBilledThroughStripe_JwtCaller_HeldWithoutSubscriptionLetThroughOnceItPays(string engine)
    {
        // Arrange: billing on and a JWT issuer on loopback; the caller's subject is linked to a user on the default plan
        // (quota 3, overage billed through Stripe) who has no subscription yet
        await using var upstream = await TestUpstream.StartAsync();
        await using var issuer = await TestIssuer.StartAsync();
        var signing = TestIssuer.NewRsaKey("rsa-overage");
        issuer.Publish(signing);
        await using var h = await BillingHarness.StartAsync(engines, engine, configure: o =>
        {
            o.JwtIssuer = issuer.Url;
            o.JwtAudience = TestIssuer.Audience;
        });
        await h.CreatePaygPlanAsync(3, isDefault: true);
        await h.Gateway.AddUpstreamAsync("backend", upstream.Url);
        await h.Gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true, AuthScheme = "jwt" });
        var userId = await h.CreateCustomerAsync("bearer@example.com", "cus_bearer", plan: "payg");
        Assert.True((await h.Gateway.Users.LinkIdentityAsync(userId, new IdentityLink(issuer.Url, "subject-bearer"), CancellationToken.None)).Ok);
        await h.Gateway.ReloadAsync();
        var token = issuer.Token(signing, "subject-bearer", "bearer@example.com");
        var jwt = h.Gateway.Service<JwtAuthenticator>();

        // Act 1: the quota, then one request past it
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            statuses.Add((await SendBearerAsync(h.Gateway, token)).StatusCode);
        }

        using var refused = await SendBearerAsync(h.Gateway, token);
        var refusedCode = await ErrorCodeAsync(refused);
        var lookupsBefore = Interlocked.Read(ref jwt.Lookups);

        // Act 2: the user subscribes (Stripe's signed webhook), and sends 2 more requests past the quota
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var started = await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_bearer", now - 10, "cus_bearer", "sub_bearer", userId, "payg"));
        await h.Gateway.ReloadAsync();
        var paidStatuses = new List<HttpStatusCode>();
        for (var i = 0; i < 2; i++)
        {
            paidStatuses.Add((await SendBearerAsync(h.Gateway, token)).StatusCode);
        }

        // Assert: held at the quota while the subject's user was in memory (one store read for the four requests)
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK], statuses);
        Assert.Equal(HttpStatusCode.PaymentRequired, refused.StatusCode);
        Assert.Equal("quota_exceeded", refusedCode);
        Assert.Equal("3", refused.Headers.GetValues("X-Quota-Limit").Single());
        Assert.Equal(1, lookupsBefore);

        // once the subscription pays, the subject is resolved again and let past the quota
        Assert.Equal((HttpStatusCode.OK, "plan payg"), (started.Status, started.Body.GetProperty("message").GetString()));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK], paidStatuses);
        Assert.Equal(2, Interlocked.Read(ref jwt.Lookups));
    }

    /// <summary>A user (created on <paramref name="plan"/> unless it exists) and a key of theirs.</summary>
    private static async Task<string> KeyAsync(BillingHarness h, string email, string? plan)
    {
        if (plan is not null)
        {
            var user = await h.Gateway.Users.CreateAsync(new UserChanges { Email = email, Plan = plan }, CancellationToken.None);
            Assert.True(user.Ok, user.Error?.ToString());
        }

        var key = await h.Gateway.Keys.CreateAsync(new KeyChanges { User = email }, CancellationToken.None);
        Assert.True(key.Ok, key.Error?.ToString());
        return key.Value!.FullKey;
    }

    private static Task<HttpResponseMessage> SendAsync(BillingHarness h, string key) => SendAsync(h.Gateway, key);

    private static async Task<HttpResponseMessage> SendAsync(TestGateway gateway, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/api/things");
        request.Headers.Add("X-API-Key", key);
        return await gateway.Client.SendAsync(request);
    }

    private static async Task<HttpResponseMessage> SendBearerAsync(TestGateway gateway, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/api/things");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        return await gateway.Client.SendAsync(request);
    }

    /// <summary>Sends with <paramref name="key"/> until the answer is <paramref name="wanted"/> (bounded by <see cref="Bound"/>); returns that answer.</summary>
    private static async Task<HttpResponseMessage> UntilStatusAsync(TestGateway gateway, string key, HttpStatusCode wanted)
    {
        var deadline = DateTime.UtcNow + Bound;
        var response = await SendAsync(gateway, key);
        while (response.StatusCode != wanted && DateTime.UtcNow < deadline)
        {
            response.Dispose();
            await Task.Delay(20);
            response = await SendAsync(gateway, key);
        }

        return response;
    }

    /// <summary>The code of the first error in a JSON:API error body.</summary>
    private static async Task<string?> ErrorCodeAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("errors")[0].GetProperty("code").GetString();

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
