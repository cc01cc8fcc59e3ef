using System.Net;
using ApiGate.Core.Billing;
using ApiGate.Core.Identity;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>
/// Billing events about one user that arrive at the same moment: each is decided on the state the other left, never
/// both on the same old state (Stripe sends <c>checkout.session.completed</c> and <c>customer.subscription.created</c>
/// together on every checkout), and a failed payment is not undone by an older "still active" update delivered late.
/// </summary>
public sealed class BillingRaceTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const int Trials = 8;
    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task UpdateAndDeletionAtOnce_TheDeletionAlwaysWins(string engine)
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, engine);
        var t = Now - 100;
        var users = new List<string>();
        for (var i = 0; i < Trials; i++)
        {
            var user = await h.CreateCustomerAsync($"race{i}@example.com", $"cus_race{i}");
            Assert.Equal(HttpStatusCode.OK, (await h.PostWebhookAsync(StripeEvents.CheckoutCompleted($"evt_r{i}_1", t + 1, $"cus_race{i}", $"sub_race{i}", user, "pro"))).Status);
            users.Add(user);
        }

        // Act: per user, a plan change (t+2) and the cancellation (t+3) delivered together.
        await Task.WhenAll(Enumerable.Range(0, Trials).SelectMany(i => new[]
        {
            h.PostWebhookAsync(StripeEvents.Subscription($"evt_r{i}_2", "customer.subscription.updated", t + 2, $"sub_race{i}", $"cus_race{i}", "active", t, "price_team")),
            h.PostWebhookAsync(StripeEvents.Subscription($"evt_r{i}_3", "customer.subscription.deleted", t + 3, $"sub_race{i}", $"cus_race{i}", "canceled", t, "price_team")),
        }).Select(async post => Assert.Equal(HttpStatusCode.OK, (await post).Status)));

        // Assert: whichever was applied first, the subscription ended and the user is on the default plan.
        foreach (var user in users)
        {
            var customer = await h.Gateway.Store.FindBillingCustomerAsync(user, CancellationToken.None);
            Assert.Equal(("free", "canceled"), ((await h.UserAsync(user)).PlanId, customer!.SubscriptionStatus));
        }
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task CheckoutCompletedAndSubscriptionCreatedAtOnce_OneStartedAndOnePlanChangedPerUser(string engine)
    {
        // Arrange
        await using var h = await BillingHarness.StartAsync(engines, engine);
        var endpoint = await h.CreateWebhookEndpointAsync("subscription.started", "plan.changed");
        var t = Now - 100;
        var users = new List<string>();
        for (var i = 0; i < Trials; i++)
        {
            users.Add(await h.CreateCustomerAsync($"co{i}@example.com", $"cus_co{i}"));
        }

        // Act: what Stripe sends at the end of every checkout, both at once.
        await Task.WhenAll(users.SelectMany((user, i) => new[]
        {
            h.PostWebhookAsync(StripeEvents.CheckoutCompleted($"evt_co{i}_a", t + 1, $"cus_co{i}", $"sub_co{i}", user, "pro")),
            h.PostWebhookAsync(StripeEvents.Subscription($"evt_co{i}_b", "customer.subscription.created", t + 1, $"sub_co{i}", $"cus_co{i}", "active", t, "price_pro")),
        }).Select(async post => Assert.Equal(HttpStatusCode.OK, (await post).Status)));

        // Assert: the plan changed once per user, and the operator hears so once.
        Assert.All(users, user => Assert.Equal("pro", h.UserAsync(user).GetAwaiter().GetResult().PlanId));
        var deliveries = await h.Gateway.Store.ListWebhookDeliveriesAsync(endpoint, 100, CancellationToken.None);
        Assert.Equal(Trials, deliveries.Count(d => d.EventType == "subscription.started"));
        Assert.Equal(Trials, deliveries.Count(d => d.EventType == "plan.changed"));
    }

    [Fact]
    public async Task PaymentFailed_ThenAnOlderActiveUpdateDeliveredLate_UserStaysSuspended()
    {
        // Arrange: at renewal the subscription was updated (still active, t+20) and then the invoice failed (t+30);
        // Stripe delivers the failure first.
        await using var h = await BillingHarness.StartAsync(engines, GatewayStores.Sqlite);
        var user = await h.CreateCustomerAsync("carol@example.com", "cus_carol");
        var t = Now - 100;
        await h.PostWebhookAsync(StripeEvents.CheckoutCompleted("evt_c1", t + 10, "cus_carol", "sub_c", user, "pro"));
        await h.PostWebhookAsync(StripeEvents.PaymentFailed("evt_c2", t + 30, "cus_carol", "sub_c"));
        Assert.Equal(UserStatus.Suspended, (await h.UserAsync(user)).Status);

        // Act
        var late = await h.PostWebhookAsync(StripeEvents.Subscription("evt_c3", "customer.subscription.updated", t + 20, "sub_c", "cus_carol", "active", t, "price_pro"));

        // Assert: as if the two had arrived in the order they happened.
        Assert.Equal(HttpStatusCode.OK, late.Status);
        Assert.StartsWith("ignored: stale", late.Body.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(("pro", UserStatus.Suspended), ((await h.UserAsync(user)).PlanId, (await h.UserAsync(user)).Status));

        // A payment after the failure still reactivates.
        await h.PostWebhookAsync(StripeEvents.Subscription("evt_c4", "customer.subscription.updated", t + 40, "sub_c", "cus_carol", "active", t, "price_pro"));
        Assert.Equal(UserStatus.Active, (await h.UserAsync(user)).Status);
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task ApplyBillingEvent_TwoDecisionsOnOneState_OneAppliedTheOtherOutdatedAndNotRecorded(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var (billed, _) = await BillingStoreTests.SetUpAsync(store);
        var user = (await store.FindUserAsync(billed, CancellationToken.None))!;
        var customer = await store.FindBillingCustomerAsync(billed, CancellationToken.None);
        var basis = new BillingBasis(billed, customer, user.PlanId, user.Status);
        var at = DateTimeOffset.UtcNow;
        BillingCustomer Next(string subscription) => customer! with { SubscriptionId = subscription, SubscriptionStatus = "active", LastEventCreated = 1, UpdatedAt = at };

        for (var round = 0; round < 5; round++)
        {
            // Act: both decided on the same state, written at once.
            var current = await store.FindBillingCustomerAsync(billed, CancellationToken.None);
            var currentUser = (await store.FindUserAsync(billed, CancellationToken.None))!;
            var sameBasis = basis with { Customer = current, PlanId = currentUser.PlanId, Status = currentUser.Status };
            var results = await Task.WhenAll(
                Task.Run(() => store.ApplyBillingEventAsync(new BillingEventRecord($"evt_{round}_a", "t", billed, "a", at), sameBasis,
                    Next($"sub_{round}_a") with { UpdatedAt = at.AddSeconds(round) }, null, [], CancellationToken.None)),
                Task.Run(() => store.ApplyBillingEventAsync(new BillingEventRecord($"evt_{round}_b", "t", billed, "b", at), sameBasis,
                    Next($"sub_{round}_b") with { UpdatedAt = at.AddSeconds(round) }, null, [], CancellationToken.None)));

            // Assert
            Assert.Equal([BillingApplyResult.Applied, BillingApplyResult.Outdated], results.Order().ToArray());
            var lost = results[0] == BillingApplyResult.Outdated ? $"evt_{round}_a" : $"evt_{round}_b";
            Assert.False(await store.IsBillingEventProcessedAsync(lost, CancellationToken.None)); // decided again, not swallowed
        }
    }
}
