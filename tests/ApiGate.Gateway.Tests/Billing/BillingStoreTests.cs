using ApiGate.Core.Billing;
using ApiGate.Core.Management;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Dapper;

namespace ApiGate.Gateway.Tests.Billing;

/// <summary>The billing store contract on every engine: the overage outbox is written by the usage batch, claimed under a lease, marked once.</summary>
public sealed class BillingStoreTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    internal static readonly DateTimeOffset Now = new(2026, 11, 15, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task UsageBatch_OverageOfMeteredCustomer_QueuesOneRowAndNoneForOthers(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var (billed, unbilled) = await SetUpAsync(store);

        // Act
        await store.AddUsageEventsAsync([Event(billed, 1, 0), Event(billed, 1, 2), Event(billed, 0, 1), Event(unbilled, 1, 1)], CancellationToken.None);

        // Assert
        var row = Assert.Single(await store.ListOverageAsync(sent: false, 10, CancellationToken.None));
        Assert.Equal((billed, "cus_store", "api_overage", 2L), (row.UserId, row.CustomerId, row.MeterEvent, row.Units));
        Assert.Equal(QuotaPeriod.StartOf(Now), row.PeriodStart);
        Assert.Equal(Now.AddSeconds(2), row.UsageAt);
        Assert.StartsWith("apigate_overage_", row.Id, StringComparison.Ordinal);
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task UsageBatch_PlanChangedBeforeTheBatchIsWritten_BillsEachRequestToThePlanItWasAdmittedOn(string engine)
    {
        // Arrange: the requests were admitted on the metered plan; the user moved to an unmetered plan before the batch
        // reached the store. Later requests on the new plan carry no meter; one on another metered plan carries its own.
        var store = (await engines.CreateAsync(engine)).Store;
        var (billed, _) = await SetUpAsync(store);
        Assert.True((await new PlanService(store, TimeProvider.System).CreateAsync(new PlanInput { Id = "basic", Name = "Basic", RequestsPerMonth = 2 }, CancellationToken.None)).Ok);
        Assert.True((await new UserService(store, TimeProvider.System).UpdateAsync(billed, new UserChanges { Plan = "basic" }, CancellationToken.None)).Ok);

        // Act
        await store.AddUsageEventsAsync(
            [Event(billed, 2, 0), Event(billed, 1, 1), Event(billed, 1, 2, meter: ""), Event(billed, 4, 3, meter: "api_overage_eu")],
            CancellationToken.None);

        // Assert: 3 units on the plan's meter, 4 on the other, none for the request made without one
        var rows = (await store.ListOverageAsync(sent: false, 10, CancellationToken.None)).OrderBy(r => r.MeterEvent, StringComparer.Ordinal).ToList();
        Assert.Equal([("api_overage", 3L), ("api_overage_eu", 4L)], rows.Select(r => (r.MeterEvent, r.Units)));
        Assert.All(rows, r => Assert.Equal((billed, "cus_store"), (r.UserId, r.CustomerId)));
        Assert.Equal(8, (await store.LoadQuotaUsageAsync(QuotaPeriod.StartOf(Now), CancellationToken.None)).Single(q => q.UserId == billed).Overage);
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task UsageBatches_FromTwoInstancesStraddlingTheQuota_OverageIsExactlyTheUnitsPastIt(string engine)
    {
        // Arrange: a 10-request plan with overage; on PostgreSQL two stores on one database, as two gateway instances
        // (SQLite is one instance's store: its batches come from one writer).
        var created = await engines.CreateAsync(engine);
        await using var second = GatewayStores.Create(engine, created.Dsn, new ApiGate.Storage.Secrets.SecretProtector(null));
        await second.InitializeAsync(CancellationToken.None);
        var stores = engine == GatewayStores.Postgres ? new[] { created.Store, second } : [created.Store, created.Store];
        Assert.True((await new PlanService(created.Store, TimeProvider.System).CreateAsync(
            new PlanInput { Id = "ten", Name = "Ten", RequestsPerMonth = 10, OveragePrice = 1 }, CancellationToken.None)).Ok);
        var user = (await new UserService(created.Store, TimeProvider.System).CreateAsync(
            new UserChanges { Email = "straddle@example.com", Plan = "ten" }, CancellationToken.None)).Value!.Id;

        // Act: 20 requests of 100 units each, all admitted while the quota had room, written as 20 batches at once,
        // alternating between the instances.
        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => stores[i % 2].AddUsageEventsAsync(
            [Event(user, 100, i % 3, meter: "") with { OverageAbove = 10 }], CancellationToken.None)));

        // Assert: 2,000 units stored, 1,990 of them past the quota — whatever order the batches committed in.
        var quota = (await created.Store.LoadQuotaUsageAsync(QuotaPeriod.StartOf(Now), CancellationToken.None)).Single(q => q.UserId == user);
        Assert.Equal((2_000L, 1_990L), (quota.Used, quota.Overage));
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task ClaimOverage_SecondInstanceWhileLeased_GetsNothingUntilTheLeaseExpires(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var (billed, _) = await SetUpAsync(store);
        await store.AddUsageEventsAsync([Event(billed, 3, 0)], CancellationToken.None);
        var lease = TimeSpan.FromMinutes(5);

        // Act
        var first = await store.ClaimOverageAsync("a", 10, Now, lease, CancellationToken.None);
        var second = await store.ClaimOverageAsync("b", 10, Now.AddMinutes(1), lease, CancellationToken.None);
        var afterExpiry = await store.ClaimOverageAsync("b", 10, Now.AddMinutes(6), lease, CancellationToken.None);
        var lateMarkByA = await store.MarkOverageSentAsync(first[0].Id, "a", Now.AddMinutes(6), CancellationToken.None);
        var markByB = await store.MarkOverageSentAsync(afterExpiry[0].Id, "b", Now.AddMinutes(7), CancellationToken.None);
        var afterSent = await store.ClaimOverageAsync("c", 10, Now.AddHours(1), lease, CancellationToken.None);

        // Assert
        Assert.Single(first);
        Assert.Empty(second);
        Assert.Equal(first[0].Id, Assert.Single(afterExpiry).Id);
        Assert.Equal(2, afterExpiry[0].Attempts);
        Assert.False(lateMarkByA);
        Assert.True(markByB);
        Assert.Empty(afterSent);
        var totals = await store.GetOverageTotalsAsync(CancellationToken.None);
        Assert.Equal((0L, 0L, 1L, 3L), (totals.PendingRows, totals.PendingUnits, totals.SentRows, totals.SentUnits));
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task ApplyBillingEvent_SameEventTwice_AppliesOnce(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var (billed, _) = await SetUpAsync(store);
        var record = new BillingEventRecord("evt_once", "customer.subscription.updated", billed, "plan free", Now);
        var change = new BillingUserChange(billed, "free", Core.Identity.UserStatus.Active, Now);

        // Act
        var first = await store.ApplyBillingEventAsync(record, null, null, change, [], CancellationToken.None);
        var version = await store.GetConfigVersionAsync(CancellationToken.None);
        var second = await store.ApplyBillingEventAsync(record, null, null, change, [], CancellationToken.None);

        // Assert
        Assert.Equal(BillingApplyResult.Applied, first);
        Assert.Equal(BillingApplyResult.Duplicate, second);
        Assert.Equal(version, await store.GetConfigVersionAsync(CancellationToken.None));
        Assert.Equal("free", (await store.FindUserAsync(billed, CancellationToken.None))!.PlanId);
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task FindBillingCustomers_SeveralUsers_ReturnsTheCustomersOfThoseWhoHaveOne(string engine)
    {
        // Arrange: two customers of the three users asked about, and a third customer not asked about
        var store = (await engines.CreateAsync(engine)).Store;
        var (billed, unbilled) = await SetUpAsync(store);
        var users = new UserService(store, TimeProvider.System);
        var held = (await users.CreateAsync(new UserChanges { Email = "held@example.com" }, CancellationToken.None)).Value!.Id;
        var other = (await users.CreateAsync(new UserChanges { Email = "other@example.com" }, CancellationToken.None)).Value!.Id;
        await store.AddBillingCustomerAsync(new BillingCustomer(held, "stripe", "cus_held", "sub_held", "past_due", 10, 20, true, Now), CancellationToken.None);
        await store.AddBillingCustomerAsync(new BillingCustomer(other, "stripe", "cus_other", "sub_other", "active", 10, 20, false, Now), CancellationToken.None);

        // Act
        var found = await store.FindBillingCustomersAsync([billed, unbilled, held, "no_such_user"], CancellationToken.None);
        var none = await store.FindBillingCustomersAsync([], CancellationToken.None);

        // Assert
        Assert.Equal(
            [(held, "cus_held", "sub_held", "past_due", true), (billed, "cus_store", "", "", false)],
            found.Select(c => (c.UserId, c.CustomerId, c.SubscriptionId, c.SubscriptionStatus, c.SuspendedByBilling)).OrderBy(c => c.CustomerId, StringComparer.Ordinal));
        Assert.Empty(none);
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task BillingCustomers_WrittenByAnOlderBuild_MoveTheIdentityVersionOnlyWhenASubscriptionChanges(string engine)
    {
        // Arrange: gateways cache whether a key's user pays; an older build (or a hand edit) writes billing customers
        // without moving the identity version itself
        var created = await engines.CreateAsync(engine);
        var store = created.Store;
        var (billed, unbilled) = await SetUpAsync(store);
        await using var raw = await created.OpenRawAsync();
        var start = await IdentityVersionAsync(store);

        // Act
        await raw.ExecuteAsync("UPDATE billing_customers SET subscription_id = 'sub_old', subscription_status = 'active' WHERE user_id = @Id", new { Id = billed });
        var subscribed = await IdentityVersionAsync(store);
        await raw.ExecuteAsync("UPDATE billing_customers SET last_event_created = 99, updated_at = 'later' WHERE user_id = @Id", new { Id = billed });
        var otherColumns = await IdentityVersionAsync(store);
        await raw.ExecuteAsync("UPDATE billing_customers SET subscription_status = 'active' WHERE user_id = @Id", new { Id = billed });
        var sameStatus = await IdentityVersionAsync(store);
        await raw.ExecuteAsync("UPDATE billing_customers SET subscription_status = 'canceled' WHERE user_id = @Id", new { Id = billed });
        var canceled = await IdentityVersionAsync(store);
        await raw.ExecuteAsync(
            "INSERT INTO billing_customers (user_id, provider, customer_id, subscription_id, subscription_status, updated_at) VALUES (@Id, 'stripe', 'cus_old', 'sub_new', 'trialing', 'now')",
            new { Id = unbilled });
        var inserted = await IdentityVersionAsync(store);
        await raw.ExecuteAsync("DELETE FROM billing_customers WHERE user_id = @Id", new { Id = unbilled });
        var deleted = await IdentityVersionAsync(store);

        // Assert
        Assert.Equal(
            [start + 1, start + 1, start + 1, start + 2, start + 3, start + 4],
            new[] { subscribed, otherColumns, sameStatus, canceled, inserted, deleted });
    }

    [Theory]
    [EngineData(GatewayStores.Sqlite)]
    [EngineData(GatewayStores.Postgres)]
    public async Task ApplyBillingEvent_PayingStateChanges_MovesIdentityVersionOnceAndTheConfigVersion(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var (billed, _) = await SetUpAsync(store);
        var start = await store.GetVersionsAsync(CancellationToken.None);

        // Act: a subscription starts, then an event that changes only the last event seen
        var subscribed = new BillingCustomer(billed, "stripe", "cus_store", "sub_1", "active", 10, 20, false, Now);
        Assert.Equal(BillingApplyResult.Applied, await store.ApplyBillingEventAsync(
            new BillingEventRecord("evt_1", "customer.subscription.created", billed, "subscribed", Now), null, subscribed, null, [], CancellationToken.None));
        var afterSubscribing = await store.GetVersionsAsync(CancellationToken.None);
        Assert.Equal(BillingApplyResult.Applied, await store.ApplyBillingEventAsync(
            new BillingEventRecord("evt_2", "invoice.paid", billed, "recorded", Now), null, subscribed with { LastEventCreated = 30 }, null, [], CancellationToken.None));
        var afterRecording = await store.GetVersionsAsync(CancellationToken.None);

        // Assert: the trigger moved the identity version once; the config version moved for the paying change only
        Assert.Equal((start.Identity + 1, start.Config + 1), (afterSubscribing.Identity, afterSubscribing.Config));
        Assert.Equal((start.Identity + 1, start.Config + 1), (afterRecording.Identity, afterRecording.Config));
    }

    private static async Task<long> IdentityVersionAsync(IGatewayStore store) => (await store.GetVersionsAsync(CancellationToken.None)).Identity;

    internal static async Task<(string Billed, string Unbilled)> SetUpAsync(ApiGate.Storage.Sql.SqlGatewayStore store)
    {
        var plans = new PlanService(store, TimeProvider.System);
        Assert.True((await plans.CreateAsync(new PlanInput
        {
            Id = "metered", Name = "Metered", RequestsPerMonth = 2, OveragePrice = 1,
            StripePriceId = "price_pro", StripeOveragePriceId = "price_metered", StripeMeterEvent = "api_overage",
        }, CancellationToken.None)).Ok);
        var users = new UserService(store, TimeProvider.System);
        var billed = (await users.CreateAsync(new UserChanges { Email = "billed@example.com", Plan = "metered" }, CancellationToken.None)).Value!.Id;
        var unbilled = (await users.CreateAsync(new UserChanges { Email = "unbilled@example.com", Plan = "metered" }, CancellationToken.None)).Value!.Id;
        await store.AddBillingCustomerAsync(new BillingCustomer(billed, "stripe", "cus_store", "", "", 0, 0, false, Now), CancellationToken.None);
        // Both have used the plan's 2 requests this month: every further unit is overage.
        await store.AddQuotaUsageAsync([new QuotaUsage(billed, QuotaPeriod.StartOf(Now), 2, 0), new QuotaUsage(unbilled, QuotaPeriod.StartOf(Now), 2, 0)], CancellationToken.None);
        return (billed, unbilled);
    }

    /// <summary>A request of <paramref name="overage"/> units on the metered plan (2 a month), made once the quota is used up.</summary>
    internal static UsageEvent Event(string userId, long overage, int second, string meter = "api_overage") => new()
    {
        UserId = userId, KeyId = "key_1", RouteId = "route_1", UpstreamId = "up_1", Method = "GET", Path = "/x", Status = 200,
        Units = overage, OverageAbove = 2, OverageMeter = meter, ClientIp = "127.0.0.1", RequestId = "req",
        Timestamp = Now.AddSeconds(second),
    };
}
