using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Core.Webhooks;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Rows;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sql;

namespace ApiGate.Gateway.Tests.Webhooks;

/// <summary>The webhook outbox in the store, on every engine: fan-out, leases across instances, per-endpoint order, usage crossings, encrypted secrets.</summary>
public sealed class WebhookStoreTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 6, 0, 0, TimeSpan.Zero);

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddWebhookEventAsync_SubscribedDisabledAndOtherEndpoints_QueuesOnlyForTheEnabledSubscriber(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var subscribed = await CreateEndpointAsync(store, "key.created,key.revoked");
        var disabled = await CreateEndpointAsync(store, "key.created", enabled: false);
        var other = await CreateEndpointAsync(store, "user.created");

        // Act
        var queued = await store.AddWebhookEventAsync(WebhookPayloads.Test("x", Now) with { Type = WebhookEventTypes.KeyCreated }, null, None);

        // Assert
        Assert.Equal(1, queued);
        Assert.Single(await store.ListWebhookDeliveriesAsync(subscribed, 10, None));
        Assert.Empty(await store.ListWebhookDeliveriesAsync(disabled, 10, None));
        Assert.Empty(await store.ListWebhookDeliveriesAsync(other, 10, None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ClaimWebhookDeliveriesAsync_TwoInstancesAtOnce_NoDeliveryLeasedTwice(string engine)
    {
        // Arrange: four endpoints with three events each, claimed by two instances of the store in parallel
        var created = await engines.CreateAsync(engine);
        await using var second = GatewayStores.Create(engine, created.Dsn, new SecretProtector(null));
        await second.InitializeAsync(None);
        for (var i = 0; i < 4; i++)
        {
            await CreateEndpointAsync(created.Store, "user.created");
        }

        for (var i = 0; i < 3; i++)
        {
            await created.Store.AddWebhookEventAsync(Event(WebhookEventTypes.UserCreated), null, None);
        }

        // Act
        var claims = await Task.WhenAll(Enumerable.Range(0, 8).Select(i =>
            (i % 2 == 0 ? created.Store : second).ClaimWebhookDeliveriesAsync($"owner{i}", Now, Now.AddMinutes(1), 16, None)));

        // Assert: each endpoint's oldest delivery, each leased to exactly one claimer
        var leased = claims.SelectMany(c => c).ToList();
        Assert.Equal(4, leased.Count);
        Assert.Equal(4, leased.Select(w => w.EndpointId).Distinct().Count());
        Assert.Equal(4, leased.Select(w => w.DeliveryId).Distinct().Count());
    }

    [Fact]
    public async Task ClaimWebhookDeliveriesAsync_NothingDue_AnswersWithoutTheFilesWriteLock_SomethingDue_TakesIt()
    {
        // Arrange: a SQLite store with an endpoint and nothing queued; another connection holds the file's write lock
        var created = await engines.CreateAsync(GatewayStores.Sqlite);
        await CreateEndpointAsync(created.Store, "user.created");
        await using var holder = await created.OpenRawAsync();
        await ExecuteAsync(holder, "BEGIN IMMEDIATE");

        // Act: the once-a-second claim of every gateway, with nothing due
        var claimed = await created.Store.ClaimWebhookDeliveriesAsync("owner", Now, Now.AddMinutes(1), 16, None);

        // Assert: answered by a read, not refused as busy for want of a lock it does not need
        Assert.Empty(claimed);

        // A delivery due: its lease is a write, which waits for the lock like any other (a store on the same file that
        // waits one second for it, instead of the default thirty) and leases it once the lock is let go
        await ExecuteAsync(holder, "ROLLBACK");
        await created.Store.AddWebhookEventAsync(Event(WebhookEventTypes.UserCreated), null, None);
        await using var impatient = new ApiGate.Storage.Sqlite.SqliteGatewayStore(created.Dsn, new SecretProtector(null), TimeSpan.FromSeconds(1));
        await impatient.InitializeAsync(None);
        await ExecuteAsync(holder, "BEGIN IMMEDIATE");
        await Assert.ThrowsAsync<ApiGate.Core.Storage.StoreBusyException>(() => impatient.ClaimWebhookDeliveriesAsync("owner", Now, Now.AddMinutes(1), 16, None));
        await ExecuteAsync(holder, "ROLLBACK");
        Assert.Single(await created.Store.ClaimWebhookDeliveriesAsync("owner", Now, Now.AddMinutes(1), 16, None));

        static async Task ExecuteAsync(System.Data.Common.DbConnection connection, string sql)
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            await command.ExecuteNonQueryAsync();
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ClaimWebhookDeliveriesAsync_OldestWaitingForRetry_LaterEventsOfThatEndpointWait(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var endpoint = await CreateEndpointAsync(store, "user.created");
        var first = Event(WebhookEventTypes.UserCreated);
        var second = Event(WebhookEventTypes.UserCreated);
        await store.AddWebhookEventAsync(first, null, None);
        await store.AddWebhookEventAsync(second, null, None);
        var claimed = Assert.Single(await store.ClaimWebhookDeliveriesAsync("a", Now, Now.AddMinutes(1), 16, None));
        Assert.True(await store.RecordWebhookAttemptAsync(new WebhookAttempt(claimed.DeliveryId, Now, 500, 3, "endpoint answered 500"), "a", claimed.StartedAt,
            WebhookDeliveryStatus.Pending, Now.AddSeconds(10), None));

        // Act
        var duringBackOff = await store.ClaimWebhookDeliveriesAsync("a", Now.AddSeconds(5), Now.AddMinutes(1), 16, None);
        var afterBackOff = await store.ClaimWebhookDeliveriesAsync("a", Now.AddSeconds(10), Now.AddMinutes(1), 16, None);

        // Assert
        Assert.Equal(first.Id, claimed.EventId);
        Assert.Empty(duringBackOff);
        var retried = Assert.Single(afterBackOff);
        Assert.Equal(first.Id, retried.EventId);
        Assert.Equal(1, retried.AttemptCount);
        Assert.Equal(endpoint, retried.EndpointId);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ClaimWebhookDeliveriesAsync_OlderDeliveryRedeliveredWhileANewerOneIsInFlight_WaitsUntilThatOneIsRecorded(string engine)
    {
        // Arrange: the first event delivered, the second leased (being sent), then the first redelivered
        var store = (await engines.CreateAsync(engine)).Store;
        await CreateEndpointAsync(store, "user.created");
        var first = Event(WebhookEventTypes.UserCreated);
        var second = Event(WebhookEventTypes.UserCreated);
        await store.AddWebhookEventAsync(first, null, None);
        await store.AddWebhookEventAsync(second, null, None);
        var one = Assert.Single(await store.ClaimWebhookDeliveriesAsync("a", Now, Now.AddMinutes(1), 16, None));
        Assert.True(await store.RecordWebhookAttemptAsync(new WebhookAttempt(one.DeliveryId, Now, 204, 3, ""), "a", one.StartedAt, WebhookDeliveryStatus.Delivered, Now, None));
        var two = Assert.Single(await store.ClaimWebhookDeliveriesAsync("a", Now.AddSeconds(1), Now.AddMinutes(1), 16, None));
        Assert.True(await store.RedeliverWebhookAsync(one.DeliveryId, Now.AddSeconds(2), None));

        // Act
        var whileInFlight = await store.ClaimWebhookDeliveriesAsync("b", Now.AddSeconds(3), Now.AddMinutes(1), 16, None);
        Assert.True(await store.RecordWebhookAttemptAsync(new WebhookAttempt(two.DeliveryId, Now.AddSeconds(4), 204, 3, ""), "a", two.StartedAt,
            WebhookDeliveryStatus.Delivered, Now.AddSeconds(4), None));
        var afterIt = await store.ClaimWebhookDeliveriesAsync("b", Now.AddSeconds(5), Now.AddMinutes(1), 16, None);

        // Assert: one delivery at a time per endpoint (before, the redelivered one was sent alongside the one in flight)
        Assert.Equal(second.Id, two.EventId);
        Assert.Empty(whileInFlight);
        Assert.Equal(first.Id, Assert.Single(afterIt).EventId);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ClaimWebhookDeliveriesAsync_LongBacklogForOneEndpoint_ClaimedInOrderThroughIndexSeeksOtherEndpointNotHeldUp(string engine)
    {
        // Arrange: an endpoint with a backlog of 20,000 due deliveries (a receiver down while a plan change crossed the
        // threshold for every user of a big plan), written in one statement, and another endpoint with one delivery
        var created = await engines.CreateAsync(engine);
        var store = created.Store;
        var backlogged = await CreateEndpointAsync(store, "user.created");
        var first = await AddBacklogAsync(created, 20_000);
        var other = await CreateEndpointAsync(store, "key.created");
        await store.AddWebhookEventAsync(Event(WebhookEventTypes.KeyCreated), null, None);

        // Act: ten rounds of claiming and delivering, as the worker sends an endpoint's deliveries one after another
        var claimed = new List<WebhookDeliveryWork>();
        for (var i = 0; i < 10; i++)
        {
            var at = Now.AddSeconds(i);
            foreach (var w in await store.ClaimWebhookDeliveriesAsync("a", at, at.AddMinutes(1), 16, None))
            {
                claimed.Add(w);
                Assert.True(await store.RecordWebhookAttemptAsync(new WebhookAttempt(w.DeliveryId, at, 204, 3, ""), "a", w.StartedAt, WebhookDeliveryStatus.Delivered, at, None));
            }
        }

        var plan = await PlanAsync(created, SqlGatewayStore.ClaimCandidatesSql, ("Now", StoredValues.Time(Now.AddSeconds(10))), ("Max", 16));

        // Assert: the backlog in the order it was recorded, the other endpoint not held up by it, and the deliveries read
        // through index seeks only (before, every claim went through the whole backlog: quadratic to drain)
        var backlog = claimed.Where(w => w.EndpointId == backlogged).Select(w => w.EventId).ToList();
        Assert.Equal([first.Id, .. Enumerable.Range(1, 9).Select(i => $"msg_backlog_{i}")], backlog);
        Assert.Single(claimed, w => w.EndpointId == other);
        AssertDeliveriesOnlySought(engine, plan);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ListWebhookDeliveriesAsync_LongBacklogForOneEndpoint_NewestTwentyReadOffTheIndexWithoutSortingTheBacklog(string engine)
    {
        // Arrange: the backlog an operator inspects with `webhooks deliveries` while the receiver is down
        var created = await engines.CreateAsync(engine);
        var backlogged = await CreateEndpointAsync(created.Store, "user.created");
        await AddBacklogAsync(created, 20_000);

        // Act
        var newest = await created.Store.ListWebhookDeliveriesAsync(backlogged, 20, None);
        var plan = await PlanAsync(created, SqlGatewayStore.ListDeliveriesSql, ("EndpointId", backlogged), ("Limit", 20));

        // Assert: the newest twenty, read off an index backwards (before, SQLite sorted the endpoint's whole backlog)
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"msg_backlog_{20_000 - i}"), newest.Select(d => d.EventId));
        AssertDeliveriesOnlySought(engine, plan);
        Assert.DoesNotContain(plan, line => line.Contains("TEMP B-TREE", StringComparison.Ordinal) || line.Contains("Sort", StringComparison.Ordinal));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task PruneWebhookHistoryAsync_PastTheRetention_OldFinishedDeliveriesAndUnreferencedEventsGonePendingAndRecentKept(string engine)
    {
        // Arrange: forty days ago a delivered and a failed delivery (with attempts), one still pending, and an event no
        // endpoint took; a day ago a delivered one
        var store = (await engines.CreateAsync(engine)).Store;
        var users = await CreateEndpointAsync(store, "user.created");
        var keys = await CreateEndpointAsync(store, "key.created");
        var old = Now.AddDays(-40);
        var delivered = WebhookEvent.Create(WebhookEventTypes.UserCreated, new System.Text.Json.Nodes.JsonObject(), null, old);
        var failed = WebhookEvent.Create(WebhookEventTypes.UserCreated, new System.Text.Json.Nodes.JsonObject(), null, old);
        var recent = WebhookEvent.Create(WebhookEventTypes.UserCreated, new System.Text.Json.Nodes.JsonObject(), null, Now.AddDays(-1));
        var pending = WebhookEvent.Create(WebhookEventTypes.KeyCreated, new System.Text.Json.Nodes.JsonObject(), null, old);
        var untaken = WebhookEvent.Create(WebhookEventTypes.PlanChanged, new System.Text.Json.Nodes.JsonObject(), null, old);
        foreach (var e in new[] { delivered, failed, recent, pending, untaken })
        {
            await store.AddWebhookEventAsync(e, null, None);
        }

        // One at a time, lowest delivery first: the three of the users' endpoint, never the keys' one (queued last)
        foreach (var (at, status) in new[] { (old, WebhookDeliveryStatus.Delivered), (old, WebhookDeliveryStatus.Failed), (Now.AddDays(-1), WebhookDeliveryStatus.Delivered) })
        {
            var work = Assert.Single(await store.ClaimWebhookDeliveriesAsync("a", Now, Now.AddMinutes(1), 1, None));
            Assert.Equal(users, work.EndpointId);
            Assert.True(await store.RecordWebhookAttemptAsync(new WebhookAttempt(work.DeliveryId, at, status == WebhookDeliveryStatus.Delivered ? 204 : 500, 3, ""), "a",
                work.StartedAt, status, at, None));
        }

        // Act: thirty days kept, in batches of one, until a batch deletes nothing
        var rounds = new List<(int Deliveries, int Events)>();
        for (var i = 0; i < 10; i++)
        {
            rounds.Add(await store.PruneWebhookHistoryAsync(Now.AddDays(-30), 1, None));
            if (rounds[^1] == (0, 0))
            {
                break;
            }
        }

        // Assert
        Assert.Equal([(1, 1), (1, 1), (0, 1), (0, 0)], rounds); // each batch at most one of each: two deliveries, then their three events
        var usersLeft = await store.ListWebhookDeliveriesAsync(users, 10, None);
        Assert.Equal([recent.Id], usersLeft.Select(d => d.EventId));
        Assert.Single(Assert.Single(usersLeft).Attempts);
        var keysLeft = Assert.Single(await store.ListWebhookDeliveriesAsync(keys, 10, None));
        Assert.Equal((pending.Id, WebhookDeliveryStatus.Pending), (keysLeft.EventId, keysLeft.Status));
        var stillDue = Assert.Single(await store.ClaimWebhookDeliveriesAsync("a", Now, Now.AddMinutes(1), 16, None));
        Assert.Equal(pending.Id, stillDue.EventId); // its event is still there to send
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RedeliverWebhookAsync_AfterFailedAttempts_BackOffStartsAgainButTheHistoryStays(string engine)
    {
        // Arrange: three failed attempts, then given up
        var store = (await engines.CreateAsync(engine)).Store;
        var endpoint = await CreateEndpointAsync(store, "user.created");
        await store.AddWebhookEventAsync(Event(WebhookEventTypes.UserCreated), null, None);
        long id = 0;
        for (var i = 0; i < 3; i++)
        {
            var work = Assert.Single(await store.ClaimWebhookDeliveriesAsync("a", Now.AddMinutes(i), Now.AddMinutes(i).AddSeconds(30), 16, None));
            Assert.Equal(i, work.AttemptCount);
            id = work.DeliveryId;
            Assert.True(await store.RecordWebhookAttemptAsync(new WebhookAttempt(id, Now.AddMinutes(i), 500, 3, "endpoint answered 500"), "a", work.StartedAt,
                i < 2 ? WebhookDeliveryStatus.Pending : WebhookDeliveryStatus.Failed, Now.AddMinutes(i + 1), None));
        }

        // Act
        Assert.True(await store.RedeliverWebhookAsync(id, Now.AddHours(1), None));
        var redelivered = Assert.Single(await store.ClaimWebhookDeliveriesAsync("a", Now.AddHours(1), Now.AddHours(1).AddSeconds(30), 16, None));

        // Assert: counted from the redelivery (its back-off starts at the first step again), the attempts still listed
        Assert.Equal(0, redelivered.AttemptCount);
        Assert.Equal(Now.AddHours(1), redelivered.StartedAt);
        Assert.Equal(3, Assert.Single(await store.ListWebhookDeliveriesAsync(endpoint, 10, None)).Attempts.Count);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RecordWebhookAttemptAsync_RedeliveredWhileInFlight_RedeliveryStandsAndItIsSentAgain(string engine)
    {
        // Arrange: an attempt in flight, past which the worker gives the delivery up (its age counted from before)
        var store = (await engines.CreateAsync(engine)).Store;
        var endpoint = await CreateEndpointAsync(store, "user.created");
        await store.AddWebhookEventAsync(Event(WebhookEventTypes.UserCreated), null, None);
        var work = Assert.Single(await store.ClaimWebhookDeliveriesAsync("a", Now, Now.AddMinutes(1), 16, None));

        // Act: redelivered while it is in flight, then the attempt fails and is recorded
        Assert.True(await store.RedeliverWebhookAsync(work.DeliveryId, Now.AddSeconds(5), None));
        var recorded = await store.RecordWebhookAttemptAsync(new WebhookAttempt(work.DeliveryId, Now.AddSeconds(6), 500, 3, "endpoint answered 500"), "a",
            work.StartedAt, WebhookDeliveryStatus.Failed, Now.AddSeconds(6), None);
        var listed = Assert.Single(await store.ListWebhookDeliveriesAsync(endpoint, 10, None));
        var again = Assert.Single(await store.ClaimWebhookDeliveriesAsync("b", Now.AddSeconds(7), Now.AddMinutes(1), 16, None));

        // Assert: not failed over the redelivery; the attempt is listed, the lease released, and it is claimed again
        Assert.False(recorded);
        Assert.Equal(WebhookDeliveryStatus.Pending, listed.Status);
        Assert.Equal(500, Assert.Single(listed.Attempts).StatusCode);
        Assert.Equal(work.DeliveryId, again.DeliveryId);
        Assert.Equal(Now.AddSeconds(5), again.StartedAt);
        Assert.Equal(1, again.AttemptCount); // the failed attempt came after the redelivery: it counts toward the back-off
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RecordWebhookAttemptAsync_LeaseTakenOverAfterExpiry_OldOwnerChangesNothing(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var endpoint = await CreateEndpointAsync(store, "user.created");
        await store.AddWebhookEventAsync(Event(WebhookEventTypes.UserCreated), null, None);
        var first = Assert.Single(await store.ClaimWebhookDeliveriesAsync("a", Now, Now.AddSeconds(30), 16, None));
        var takenOver = Assert.Single(await store.ClaimWebhookDeliveriesAsync("b", Now.AddSeconds(31), Now.AddSeconds(60), 16, None));

        // Act
        var late = await store.RecordWebhookAttemptAsync(new WebhookAttempt(first.DeliveryId, Now.AddSeconds(40), 204, 5, ""), "a", first.StartedAt, WebhookDeliveryStatus.Delivered, Now, None);

        // Assert
        Assert.Equal(first.DeliveryId, takenOver.DeliveryId);
        Assert.False(late);
        var delivery = Assert.Single(await store.ListWebhookDeliveriesAsync(endpoint, 10, None));
        Assert.Equal(WebhookDeliveryStatus.Pending, delivery.Status);
        Assert.Single(delivery.Attempts); // the attempt itself is still recorded
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RecordWebhookAttemptAsync_LeaseTakenOverAfterExpiry_LateAttemptIsCounted(string engine)
    {
        // Arrange: the first owner's lease runs out and a second owner claims the delivery
        var store = (await engines.CreateAsync(engine)).Store;
        var endpoint = await CreateEndpointAsync(store, "user.created");
        await store.AddWebhookEventAsync(Event(WebhookEventTypes.UserCreated), null, None);
        var first = Assert.Single(await store.ClaimWebhookDeliveriesAsync("a", Now, Now.AddSeconds(30), 16, None));
        var second = Assert.Single(await store.ClaimWebhookDeliveriesAsync("b", Now.AddSeconds(31), Now.AddSeconds(60), 16, None));

        // Act: both attempts are recorded, the first owner's late
        await store.RecordWebhookAttemptAsync(new WebhookAttempt(first.DeliveryId, Now.AddSeconds(40), 500, 5, "endpoint answered 500"), "a", first.StartedAt,
            WebhookDeliveryStatus.Pending, Now.AddMinutes(1), None);
        await store.RecordWebhookAttemptAsync(new WebhookAttempt(second.DeliveryId, Now.AddSeconds(41), 500, 5, "endpoint answered 500"), "b", second.StartedAt,
            WebhookDeliveryStatus.Pending, Now.AddMinutes(1), None);

        // Assert: the count is every attempt recorded, so a reader can tell when the listing leaves some out
        var delivery = Assert.Single(await store.ListWebhookDeliveriesAsync(endpoint, 10, None));
        Assert.Equal(2, delivery.Attempts.Count);
        Assert.Equal(2, delivery.AttemptCount);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ListWebhookDeliveriesAsync_DeliveryAttemptedMoreThanListed_NewestAttemptsAndCountOfAll(string engine)
    {
        // Arrange: a delivery failed 13 times (given up at the last), then the next event's delivery failed twice
        var store = (await engines.CreateAsync(engine)).Store;
        var endpoint = await CreateEndpointAsync(store, "user.created");
        await store.AddWebhookEventAsync(Event(WebhookEventTypes.UserCreated), null, None);
        await store.AddWebhookEventAsync(Event(WebhookEventTypes.UserCreated), null, None);
        const int Retried = WebhookDelivery.ListedAttempts + 3;
        for (var i = 0; i < Retried + 2; i++)
        {
            var at = Now.AddMinutes(i);
            var work = Assert.Single(await store.ClaimWebhookDeliveriesAsync("a", at, at.AddSeconds(30), 16, None));
            var status = i == Retried - 1 || i == Retried + 1 ? WebhookDeliveryStatus.Failed : WebhookDeliveryStatus.Pending;
            await store.RecordWebhookAttemptAsync(new WebhookAttempt(work.DeliveryId, at, 500 + i, 3, $"attempt {i}"), "a", work.StartedAt, status, at.AddMinutes(1), None);
        }

        // Act
        var listed = await store.ListWebhookDeliveriesAsync(endpoint, 10, None);
        var whole = await store.FindWebhookDeliveryAsync(listed[1].Id, None);

        // Assert: the retried delivery lists its newest attempts, newest first, and counts all of them; the other all of its own
        Assert.Equal(2, listed.Count);
        var retried = listed[1];
        Assert.Equal(Retried, retried.AttemptCount);
        Assert.Equal(Enumerable.Range(3, WebhookDelivery.ListedAttempts).Reverse().Select(i => $"attempt {i}"), retried.Attempts.Select(a => a.Error));
        Assert.All(retried.Attempts, a => Assert.Equal(retried.Id, a.DeliveryId));
        Assert.Equal(2, listed[0].AttemptCount);
        Assert.Equal(new[] { $"attempt {Retried + 1}", $"attempt {Retried}" }, listed[0].Attempts.Select(a => a.Error));

        // One delivery read on its own carries every attempt
        Assert.NotNull(whole);
        Assert.Equal(Enumerable.Range(0, Retried).Reverse().Select(i => $"attempt {i}"), whole.Attempts.Select(a => a.Error));
        Assert.Equal(Retried, whole.AttemptCount);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RecordWebhookAttemptAsync_EndpointDeletedDuringTheAttempt_NoAttemptLeftBehind(string engine)
    {
        // Arrange: a delivery being sent when its endpoint is deleted (with its deliveries and their attempts)
        var created = await engines.CreateAsync(engine);
        var endpoint = await CreateEndpointAsync(created.Store, "user.created");
        await created.Store.AddWebhookEventAsync(Event(WebhookEventTypes.UserCreated), null, None);
        var work = Assert.Single(await created.Store.ClaimWebhookDeliveriesAsync("a", Now, Now.AddMinutes(1), 16, None));
        await created.Store.DeleteWebhookEndpointAsync(endpoint, readAt: null, None);

        // Act
        var recorded = await created.Store.RecordWebhookAttemptAsync(new WebhookAttempt(work.DeliveryId, Now, 204, 3, ""), "a", work.StartedAt,
            WebhookDeliveryStatus.Delivered, Now, None);

        // Assert: before, the attempt was inserted for a delivery that no longer exists, and stayed in the table for good
        Assert.False(recorded);
        await using var connection = await created.OpenRawAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM webhook_attempts";
        Assert.Equal(0L, Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddUsageEventsAsync_TwoInstancesCrossTheQuotaInParallel_OneThresholdAndOneLimitEvent(string engine)
    {
        // Arrange: a 20-unit plan, two store instances (two gateways) each writing ten one-unit batches at once
        var created = await engines.CreateAsync(engine);
        await using var second = GatewayStores.Create(engine, created.Dsn, new SecretProtector(null));
        await second.InitializeAsync(None);
        var endpoint = await CreateEndpointAsync(created.Store, "usage.threshold,usage.limit");
        await new PlanService(created.Store, TimeProvider.System).CreateAsync(new PlanInput { Id = "twenty", Name = "Twenty", RequestsPerMonth = 20 }, None);
        var user = (await new UserService(created.Store, TimeProvider.System).CreateAsync(new UserChanges { Email = "u@example.com", Plan = "twenty" }, None)).Value!;
        created.Store.EnableUsageAlerts(0.8);
        second.EnableUsageAlerts(0.8);

        // Act
        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() =>
            (i % 2 == 0 ? created.Store : second).AddUsageEventsAsync([Usage(user.Id, i)], None))));

        // Assert
        var deliveries = await created.Store.ListWebhookDeliveriesAsync(endpoint, 100, None);
        Assert.Equal(["usage.limit", "usage.threshold"], deliveries.Select(d => d.EventType).Order());
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddUsageEventsAsync_OneBatchOfManyUsers_EachUsersCrossingsOnceWithItsOwnTime(string engine)
    {
        // Arrange: a 10-unit plan; in one batch (of two months) users who reach 80 %, 100 %, too little, and the 80 % of
        // the month before, a user on an unlimited plan, and 300 users with one unit each (every user of a batch is looked
        // at in one query per month and kind: one per user and kind held the usage writer back several times over)
        var created = await engines.CreateAsync(engine);
        var store = created.Store;
        var endpoint = await CreateEndpointAsync(store, "usage.threshold,usage.limit");
        var plans = new PlanService(store, TimeProvider.System);
        await plans.CreateAsync(new PlanInput { Id = "ten", Name = "Ten", RequestsPerMonth = 10 }, None);
        await plans.CreateAsync(new PlanInput { Id = "open", Name = "Open", RequestsPerMonth = 0 }, None);
        var users = new UserService(store, TimeProvider.System);
        async Task<string> UserAsync(string email, string plan) => (await users.CreateAsync(new UserChanges { Email = email, Plan = plan }, None)).Value!.Id;
        var (near, over, under, earlier, open) = (await UserAsync("near@example.com", "ten"), await UserAsync("over@example.com", "ten"),
            await UserAsync("under@example.com", "ten"), await UserAsync("earlier@example.com", "ten"), await UserAsync("open@example.com", "open"));
        var lastMonth = Now.AddMonths(-1);
        UsageEvent At(string user, long units, DateTimeOffset at) => Usage(user, 0) with { Units = units, Timestamp = at };
        var batch = new List<UsageEvent>
        {
            At(near, 8, Now.AddSeconds(1)), At(over, 4, Now.AddSeconds(2)), At(over, 6, Now.AddSeconds(3)), At(under, 3, Now.AddSeconds(4)),
            At(earlier, 9, lastMonth), At(open, 1_000, Now.AddSeconds(5)),
        };
        batch.AddRange(Enumerable.Range(0, 300).Select(i => At("usr_many" + i, 1, Now)));
        store.EnableUsageAlerts(0.8);

        // Act
        await store.AddUsageEventsAsync(batch, None);

        // Assert: each crossing once, for its user and month, at that user's newest event of the batch
        var deliveries = await store.ListWebhookDeliveriesAsync(endpoint, 100, None);
        Assert.Equal(4, deliveries.Count);
        await using var connection = await created.OpenRawAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT type, user_id, created_at, body FROM webhook_events WHERE type LIKE 'usage.%'";
        var events = new List<(string Type, string User, string At, string Body)>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                events.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
            }
        }

        (string, string, string)[] expected =
        [
            ("usage.threshold", earlier, StoredValues.Time(lastMonth)),
            ("usage.threshold", near, StoredValues.Time(Now.AddSeconds(1))),
            ("usage.limit", over, StoredValues.Time(Now.AddSeconds(3))),
            ("usage.threshold", over, StoredValues.Time(Now.AddSeconds(3))),
        ];
        Assert.Equal(expected.Order(), events.Select(e => (e.Type, e.User, e.At)).Order());
        Assert.Contains("\"period_start\":\"" + WebhookPayloads.Time(new DateTimeOffset(lastMonth.Year, lastMonth.Month, 1, 0, 0, 0, TimeSpan.Zero)) + "\"",
            events.Single(e => e.User == earlier).Body, StringComparison.Ordinal);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RevokeKeyAsync_TwoInstancesRevokeTheSameKeysAtOnce_OneKeyRevokedEventPerKeyWithTheStoredTime(string engine)
    {
        // Arrange: five keys, each revoked eight times at once through two store instances (two gateways, an operator
        // and a portal user)
        var created = await engines.CreateAsync(engine);
        await using var second = GatewayStores.Create(engine, created.Dsn, new SecretProtector(null));
        await second.InitializeAsync(None);
        var endpoint = await CreateEndpointAsync(created.Store, "key.revoked");
        await new PlanService(created.Store, TimeProvider.System).CreateAsync(new PlanInput { Id = "basic", Name = "Basic" }, None);
        var user = (await new UserService(created.Store, TimeProvider.System).CreateAsync(new UserChanges { Email = "r@example.com", Plan = "basic" }, None)).Value!;
        var keys = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            keys.Add((await new KeyService(created.Store, TimeProvider.System).CreateAsync(new KeyChanges { User = user.Id }, None)).Value!.Key.Id);
        }

        // Act
        using var start = new ManualResetEventSlim();
        var revocations = keys.SelectMany(key => Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            start.Wait();
            await (i % 2 == 0 ? created.Store : second).RevokeKeyAsync(key, Now.AddSeconds(i), None);
        }))).ToList();
        start.Set();
        await Task.WhenAll(revocations);

        // Assert: one event per key, saying when the key was revoked as stored (before, on PostgreSQL, revocations that
        // read the key before the first committed each recorded one, with their own time)
        var deliveries = await created.Store.ListWebhookDeliveriesAsync(endpoint, 100, None);
        Assert.Equal(5, deliveries.Count);
        var work = await created.Store.ClaimWebhookDeliveriesAsync("check", Now.AddHours(1), Now.AddHours(2), 16, None);
        var revokedAt = System.Text.Json.JsonDocument.Parse(Assert.Single(work).Body).RootElement.GetProperty("data").GetProperty("revoked_at").GetString();
        var key = System.Text.Json.JsonDocument.Parse(work[0].Body).RootElement.GetProperty("data").GetProperty("key_id").GetString()!;
        Assert.Equal(WebhookPayloads.Time((await created.Store.FindKeyAsync(key, None))!.RevokedAt!.Value), revokedAt);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateWebhookEndpointAsync_WithASecretKey_OnlyThatKeySignsAndAnyStoreManagesIt(string engine)
    {
        // Arrange
        var created = await engines.CreateAsync(engine);
        await using var keyed = GatewayStores.Create(engine, created.Dsn, new SecretProtector("store key"));
        await keyed.InitializeAsync(None);
        var endpoint = (await new WebhookService(keyed, TimeProvider.System).CreateAsync(
            new WebhookInput { Url = "https://example.com/hooks", Events = ["key.created"] }, None)).Value!;

        // Act: changed through a store without the key (nothing but signing needs the secret), then one event claimed
        // by each store in turn
        var changed = await new WebhookService(created.Store, TimeProvider.System).UpdateAsync(endpoint.Endpoint.Id, new WebhookInput { Description = "crm" }, None);
        await keyed.AddWebhookEventAsync(Event(WebhookEventTypes.KeyCreated), null, None);
        var withoutKey = Assert.Single(await created.Store.ClaimWebhookDeliveriesAsync("a", Now, Now.AddSeconds(30), 16, None));
        var withKey = Assert.Single(await keyed.ClaimWebhookDeliveriesAsync("b", Now.AddMinutes(1), Now.AddMinutes(2), 16, None));

        // Assert: the update kept the secret as stored (before, reading the endpoint without the key threw, so it could
        // not be listed, changed or deleted); only the key it was written with signs with it
        Assert.True(changed.Ok, changed.Error?.ToString());
        Assert.StartsWith("whsec_", endpoint.Secret);
        Assert.Equal(endpoint.Secret, withKey.Secret);
        Assert.Null(withKey.SecretError);
        Assert.Equal("", withoutKey.Secret);
        Assert.Contains("APIGATE_SECRET_KEY", withoutKey.SecretError);
        Assert.Equal("", (await keyed.FindWebhookEndpointAsync(endpoint.Endpoint.Id, None))!.Secret); // read back: never decrypted
    }

    /// <summary>
    /// A <c>user.created</c> event queued for the store's endpoints, then <paramref name="count"/> more for the same
    /// endpoints (<c>msg_backlog_1</c> …, in that order) written in one statement; returns the first event.
    /// </summary>
    /// <summary>The engine's plan for <paramref name="sql"/> with the store's data (PostgreSQL's after ANALYZE), one line per step.</summary>
    private static async Task<List<string>> PlanAsync(EngineStore created, string sql, params (string Name, object Value)[] parameters)
    {
        await using var connection = await created.OpenRawAsync();
        if (created.Driver == GatewayStores.Postgres)
        {
            await using var analyze = connection.CreateCommand();
            analyze.CommandText = "ANALYZE";
            await analyze.ExecuteNonQueryAsync();
        }

        await using var explain = connection.CreateCommand();
        explain.CommandText = (created.Driver == GatewayStores.Postgres ? "EXPLAIN " : "EXPLAIN QUERY PLAN ") + sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = explain.CreateParameter();
            parameter.ParameterName = name;
            parameter.Value = value;
            explain.Parameters.Add(parameter);
        }

        var plan = new List<string>();
        await using var reader = await explain.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            plan.Add(reader.GetString(created.Driver == GatewayStores.Postgres ? 0 : 3));
        }

        return plan;
    }

    /// <summary>No step of <paramref name="plan"/> reads webhook deliveries but through an index seek.</summary>
    private static void AssertDeliveriesOnlySought(string engine, List<string> plan)
    {
        var text = string.Join("\n", plan);
        if (engine == GatewayStores.Postgres)
        {
            Assert.DoesNotContain("Seq Scan on webhook_deliveries", text, StringComparison.Ordinal);
        }
        else
        {
            Assert.DoesNotMatch(@"(?m)^SCAN (webhook_deliveries|d|x|y)\b", text);
        }
    }

    private static async Task<WebhookEvent> AddBacklogAsync(EngineStore created, int count)
    {
        var first = Event(WebhookEventTypes.UserCreated);
        await created.Store.AddWebhookEventAsync(first, null, None);
        await using var connection = await created.OpenRawAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = $"""
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})
            INSERT INTO webhook_events (id, type, user_id, body, created_at)
            SELECT 'msg_backlog_' || CAST(n.i AS TEXT), v.type, v.user_id, v.body, v.created_at FROM n, webhook_events v WHERE v.id = '{first.Id}';
            INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempt_count, next_attempt_at, lease_owner, lease_until, started_at, updated_at)
            SELECT d.endpoint_id, v.id, 'pending', 0, d.next_attempt_at, '', '', d.started_at, d.updated_at
            FROM webhook_events v, webhook_deliveries d WHERE v.id LIKE 'msg_backlog_%' AND d.event_id = '{first.Id}' ORDER BY v.seq, d.id;
            """;
        command.CommandTimeout = 120;
        await command.ExecuteNonQueryAsync();
        return first;
    }

    private static async Task<string> CreateEndpointAsync(SqlGatewayStore store, string events, bool enabled = true)
    {
        var result = await new WebhookService(store, TimeProvider.System).CreateAsync(
            new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = events.Split(','), Enabled = enabled }, None);
        Assert.True(result.Ok, result.Error?.ToString());
        return result.Value!.Endpoint.Id;
    }


    private static WebhookEvent Event(string type) => WebhookEvent.Create(type, new System.Text.Json.Nodes.JsonObject { ["n"] = 1 }, null, Now);

    private static UsageEvent Usage(string userId, int i) => new()
    {
        UserId = userId,
        KeyId = "key_1",
        RouteId = "rt_1",
        UpstreamId = "up_1",
        Method = "GET",
        Path = "/api",
        Status = 200,
        Units = 1,
        ClientIp = "127.0.0.1",
        RequestId = $"req{i}",
        Timestamp = DateTimeOffset.UtcNow,
    };
}
