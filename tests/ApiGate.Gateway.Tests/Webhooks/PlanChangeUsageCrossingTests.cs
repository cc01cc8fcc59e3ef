using System.Text.Json;
using ApiGate.Core.Billing;
using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Core.Webhooks;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;
using ApiGate.Storage.Sql;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Webhooks;

/// <summary>
/// <c>usage.threshold</c> / <c>usage.limit</c> recorded by a plan change (a user moved to another plan, a plan's quota
/// changed), on every engine: a refused request adds no usage, so no usage batch would ever find these crossings.
/// </summary>
public sealed class PlanChangeUsageCrossingTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset Now = new(2026, 11, 30, 6, 0, 0, TimeSpan.Zero);
    private const string ThisPeriod = "2026-11-01T00:00:00.000Z";
    private readonly FakeTimeProvider _clock = new(Now);

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdateUser_NinetyPercentOfAThousandMovedToFiveHundred_OneUsageThresholdAndOneUsageLimitOfTheNewQuota(string engine)
    {
        // Arrange: at a 0.95 share, 900 of 1000 is past no line, so the usage batch records nothing
        var (created, store, endpoint, user) = await AdaAtNineHundredOfAThousandAsync(engine, 0.95, "usage.threshold,usage.limit", ("small", 500));
        Assert.Empty(await EventsAsync(created, endpoint));

        // Act
        await MoveAsync(store, user, "small");

        // Assert
        var events = await EventsAsync(created, endpoint);
        Assert.Equal(["usage.threshold", "usage.limit"], events.Select(e => e.Type));
        var (threshold, limit) = (events[0].Data, events[1].Data);
        Assert.Equal((user, "small", ThisPeriod, 500L, 900L), Fields(threshold));
        Assert.Equal(0.95, threshold.GetProperty("threshold").GetDouble());
        Assert.Equal((user, "small", ThisPeriod, 500L, 900L), Fields(limit));
        Assert.False(limit.TryGetProperty("threshold", out _));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdateUser_ThresholdAlreadySentByAUsageBatch_OnlyUsageLimitAdded(string engine)
    {
        // Arrange: 900 of 1000 at the default 0.8 share: the usage batch sent usage.threshold already
        var (created, store, endpoint, user) = await AdaAtNineHundredOfAThousandAsync(engine, 0.8, "usage.threshold,usage.limit", ("small", 500));

        // Act
        await MoveAsync(store, user, "small");

        // Assert: one of each for the period; the threshold says the quota it was sent for
        var events = await EventsAsync(created, endpoint);
        Assert.Equal(["usage.threshold", "usage.limit"], events.Select(e => e.Type));
        Assert.Equal((user, "thousand", ThisPeriod, 1000L, 900L), Fields(events[0].Data));
        Assert.Equal((user, "small", ThisPeriod, 500L, 900L), Fields(events[1].Data));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdatePlan_QuotaLowered_EveryUserOfThePlanPastTheNewLineMarkedOnce(string engine)
    {
        // Arrange: three users of a 1000-unit plan at 900, 600 and 100 units, and one of another plan at 900; the batch
        // sends usage.threshold for the two at 900
        var created = await engines.CreateAsync(engine);
        var store = created.Store;
        store.EnableUsageAlerts(0.8);
        var endpoint = await CreateEndpointAsync(store, "usage.threshold,usage.limit");
        await CreatePlanAsync(store, "team", 1000);
        await CreatePlanAsync(store, "other", 1000);
        var high = await CreateUserAsync(store, "high@example.com", "team");
        var middle = await CreateUserAsync(store, "middle@example.com", "team");
        var low = await CreateUserAsync(store, "low@example.com", "team");
        var elsewhere = await CreateUserAsync(store, "elsewhere@example.com", "other");
        await store.AddUsageEventsAsync([Usage(high, 900, Now), Usage(middle, 600, Now), Usage(low, 100, Now), Usage(elsewhere, 900, Now)], None);
        var beforeCount = (await EventsAsync(created, endpoint)).Count;

        // Act: lowered to 500 (lines at 400 and 500), then to 400 (320 and 400)
        await SetQuotaAsync(store, "team", 500);
        var afterFirst = await EventsAsync(created, endpoint);
        await SetQuotaAsync(store, "team", 400);
        var afterSecond = await EventsAsync(created, endpoint);

        // Assert
        Assert.Equal(2, beforeCount);
        var added = afterFirst.Skip(beforeCount).Select(e => (e.Type, Fields(e.Data))).Order().ToList();
        Assert.Equal(
            new[]
            {
                ("usage.limit", (high, "team", ThisPeriod, 500L, 900L)),
                ("usage.limit", (middle, "team", ThisPeriod, 500L, 600L)),
                ("usage.threshold", (middle, "team", ThisPeriod, 500L, 600L)),
            }.Order(),
            added);
        Assert.Equal(afterFirst.Count, afterSecond.Count);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdateUser_MovedToABiggerQuota_RecordsNothing(string engine)
    {
        // Arrange: 900 of 1000, its usage.threshold sent by the batch
        var (created, store, endpoint, user) = await AdaAtNineHundredOfAThousandAsync(engine, 0.8, "usage.threshold,usage.limit,plan.changed", ("bigger", 1100));

        // Act: 900 is past 0.8 of 1100 (880) but below 1100
        await MoveAsync(store, user, "bigger");

        // Assert: the plan changed, and the threshold of the period was sent before (for the old quota) and not again
        var events = await EventsAsync(created, endpoint);
        Assert.Equal(["usage.threshold", "plan.changed"], events.Select(e => e.Type));
        Assert.Equal(1000, events[0].Data.GetProperty("quota").GetInt64());
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddUsageEvents_AfterThePlanChangeMarkedTheUser_SendsNothingMore(string engine)
    {
        // Arrange: both crossings recorded by the plan change
        var (created, store, endpoint, user) = await AdaAtNineHundredOfAThousandAsync(engine, 0.95, "usage.threshold,usage.limit", ("small", 500));
        await MoveAsync(store, user, "small");
        Assert.Equal(["usage.threshold", "usage.limit"], (await EventsAsync(created, endpoint)).Select(e => e.Type));

        // Act: a later batch (overage let through, or a request in flight at the change) on another instance
        await using var second = GatewayStores.Create(engine, created.Dsn, new SecretProtector(null));
        await second.InitializeAsync(None);
        second.EnableUsageAlerts(0.95);
        await second.AddUsageEventsAsync([Usage(user, 50, Now.AddMinutes(1))], None);

        // Assert
        Assert.Equal(950, (await store.LoadQuotaUsageAsync(Core.Quotas.QuotaPeriod.StartOf(Now), None)).Single(q => q.UserId == user).Used);
        Assert.Equal(["usage.threshold", "usage.limit"], (await EventsAsync(created, endpoint)).Select(e => e.Type));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdateUser_NoStoredUsageThisPeriod_RecordsNothing(string engine)
    {
        // Arrange: 900 units last month, none this month
        var (created, store, endpoint, user) = await AdaAtNineHundredOfAThousandAsync(engine, 0.8, "usage.threshold,usage.limit,plan.changed", ("small", 500), usedAt: new DateTimeOffset(2026, 10, 20, 0, 0, 0, TimeSpan.Zero));
        var lastMonth = await EventsAsync(created, endpoint);

        // Act
        await MoveAsync(store, user, "small");

        // Assert: last month's threshold (sent then), the plan change, and nothing for this month
        var events = await EventsAsync(created, endpoint);
        Assert.Equal(["usage.threshold"], lastMonth.Select(e => e.Type));
        Assert.Equal("2026-10-01T00:00:00.000Z", lastMonth[0].Data.GetProperty("period_start").GetString());
        Assert.Equal(["usage.threshold", "plan.changed"], events.Select(e => e.Type));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ApplyBillingEvent_SubscriptionMovesUserToASmallerPlan_UsageLimitRecordedAfterPlanChanged(string engine)
    {
        // Arrange
        var (created, store, endpoint, user) = await AdaAtNineHundredOfAThousandAsync(engine, 0.95, "usage.threshold,usage.limit,plan.changed", ("small", 500));
        var planChanged = WebhookEvent.Create(WebhookEventTypes.PlanChanged, new System.Text.Json.Nodes.JsonObject { ["user_id"] = user }, user, Now);

        // Act
        var applied = await store.ApplyBillingEventAsync(new BillingEventRecord("evt_down", "customer.subscription.updated", user, "plan small", Now), null, null,
            new BillingUserChange(user, "small", Core.Identity.UserStatus.Active, Now), [planChanged], None);

        // Assert
        Assert.Equal(BillingApplyResult.Applied, applied);
        var events = await EventsAsync(created, endpoint);
        Assert.Equal(["plan.changed", "usage.threshold", "usage.limit"], events.Select(e => e.Type));
        Assert.Equal((user, "small", ThisPeriod, 500L, 900L), Fields(events[2].Data));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task PlanChangeAndUsageBatchOnTwoInstancesAtOnce_EachUserGetsOneThresholdAndOneLimit(string engine)
    {
        // Arrange: users at 300 of 1000; each is moved to a 500-unit plan on one instance while a 250-unit batch is
        // written for them on another. Neither alone puts them past a line of the plan it was checked against.
        var created = await engines.CreateAsync(engine);
        await using var second = GatewayStores.Create(engine, created.Dsn, new SecretProtector(null));
        await second.InitializeAsync(None);
        created.Store.EnableUsageAlerts(0.8);
        second.EnableUsageAlerts(0.8);
        var endpoint = await CreateEndpointAsync(created.Store, "usage.threshold,usage.limit");
        await CreatePlanAsync(created.Store, "thousand", 1000);
        await CreatePlanAsync(created.Store, "small", 500);
        var users = new List<string>();
        for (var i = 0; i < 8; i++)
        {
            var user = await CreateUserAsync(created.Store, $"u{i}@example.com", "thousand");
            await created.Store.AddUsageEventsAsync([Usage(user, 300, Now)], None);
            users.Add(user);
        }

        // Act
        foreach (var user in users)
        {
            using var start = new ManualResetEventSlim();
            var move = Task.Run(async () =>
            {
                start.Wait();
                await MoveAsync(created.Store, user, "small");
            });
            var batch = Task.Run(async () =>
            {
                start.Wait();
                await second.AddUsageEventsAsync([Usage(user, 250, Now)], None);
            });
            start.Set();
            await Task.WhenAll(move, batch);
        }

        // Assert: whichever committed first, 550 of 500 is reported once each way for every user
        var events = await EventsAsync(created, endpoint);
        Assert.All(users, user => Assert.Equal(
            ["usage.limit", "usage.threshold"],
            events.Where(e => e.Data.GetProperty("user_id").GetString() == user).Select(e => e.Type).Order()));
        Assert.Equal(users.Count * 2, events.Count);
        Assert.All(events.Where(e => e.Type == "usage.limit"), e => Assert.Equal((500L, 550L), (e.Data.GetProperty("quota").GetInt64(), e.Data.GetProperty("used").GetInt64())));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UsersUpdateFromTheCli_ThresholdSettingInItsEnvironment_UsageThresholdAtThatShare(string engine)
    {
        // Arrange: 300 of 1000 this month; the CLI runs with APIGATE_WEBHOOK_USAGE_THRESHOLD=0.5
        var created = await engines.CreateAsync(engine);
        var endpoint = await CreateEndpointAsync(created.Store, "usage.threshold,usage.limit");
        await CreatePlanAsync(created.Store, "thousand", 1000);
        await CreatePlanAsync(created.Store, "small", 500);
        var user = await CreateUserAsync(created.Store, "ada@example.com", "thousand");
        var at = DateTimeOffset.UtcNow; // the CLI's clock decides the period
        await created.Store.AddUsageEventsAsync([Usage(user, 300, at)], None);
        var environment = new Dictionary<string, string>(created.Environment) { ["APIGATE_WEBHOOK_USAGE_THRESHOLD"] = "0.5" };

        // Act
        var result = await CliRunner.RunAsync(environment, "users", "update", "ada@example.com", "--plan", "small");

        // Assert: 300 is past 0.5 of 500 (250), not past 500
        Assert.True(result.ExitCode == 0, result.Diagnostics);
        var threshold = Assert.Single(await EventsAsync(created, endpoint));
        Assert.Equal("usage.threshold", threshold.Type);
        Assert.Equal(0.5, threshold.Data.GetProperty("threshold").GetDouble());
        Assert.Equal((user, "small", WebhookPayloads.Time(Core.Quotas.QuotaPeriod.StartOf(at)), 500L, 300L), Fields(threshold.Data));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task PlansUpdateFromTheCli_QuotaLowered_UsageLimitForTheUserPastIt(string engine)
    {
        // Arrange: 450 of 1000 this month, the CLI at the default share (0.8)
        var created = await engines.CreateAsync(engine);
        var endpoint = await CreateEndpointAsync(created.Store, "usage.threshold,usage.limit");
        await CreatePlanAsync(created.Store, "thousand", 1000);
        var user = await CreateUserAsync(created.Store, "ada@example.com", "thousand");
        await created.Store.AddUsageEventsAsync([Usage(user, 450, DateTimeOffset.UtcNow)], None);

        // Act
        var result = await created.CliAsync("plans", "update", "thousand", "--requests-per-month", "450");

        // Assert
        Assert.True(result.ExitCode == 0, result.Diagnostics);
        var events = await EventsAsync(created, endpoint);
        Assert.Equal(["usage.threshold", "usage.limit"], events.Select(e => e.Type));
        Assert.Equal(0.8, events[0].Data.GetProperty("threshold").GetDouble());
        Assert.All(events, e => Assert.Equal((450L, 450L), (e.Data.GetProperty("quota").GetInt64(), e.Data.GetProperty("used").GetInt64())));
    }

    /// <summary>
    /// A store with usage alerts at <paramref name="share"/>, an endpoint for <paramref name="events"/>, plans
    /// <c>thousand</c> (1000 units) and <paramref name="other"/>, and ada@example.com on <c>thousand</c> with 900 units used
    /// at <paramref name="usedAt"/> (default: now).
    /// </summary>
    private async Task<(EngineStore Created, SqlGatewayStore Store, string Endpoint, string User)> AdaAtNineHundredOfAThousandAsync(
        string engine, double share, string events, (string Id, long Quota) other, DateTimeOffset? usedAt = null)
    {
        var created = await engines.CreateAsync(engine);
        var store = created.Store;
        store.EnableUsageAlerts(share);
        var endpoint = await CreateEndpointAsync(store, events);
        await CreatePlanAsync(store, "thousand", 1000);
        await CreatePlanAsync(store, other.Id, other.Quota);
        var user = await CreateUserAsync(store, "ada@example.com", "thousand");
        await store.AddUsageEventsAsync([Usage(user, 900, usedAt ?? Now)], None);
        return (created, store, endpoint, user);
    }

    private async Task CreatePlanAsync(SqlGatewayStore store, string id, long quota)
    {
        var result = await new PlanService(store, _clock).CreateAsync(new PlanInput { Id = id, Name = id, RequestsPerMonth = quota }, None);
        Assert.True(result.Ok, result.Error?.ToString());
    }

    private async Task SetQuotaAsync(SqlGatewayStore store, string id, long quota)
    {
        var result = await new PlanService(store, _clock).UpdateAsync(id, new PlanInput { RequestsPerMonth = quota }, None);
        Assert.True(result.Ok, result.Error?.ToString());
    }

    private async Task<string> CreateUserAsync(SqlGatewayStore store, string email, string plan)
    {
        var result = await new UserService(store, _clock).CreateAsync(new UserChanges { Email = email, Plan = plan }, None);
        Assert.True(result.Ok, result.Error?.ToString());
        return result.Value!.Id;
    }

    private async Task MoveAsync(SqlGatewayStore store, string user, string plan)
    {
        var result = await new UserService(store, _clock).UpdateAsync(user, new UserChanges { Plan = plan }, None);
        Assert.True(result.Ok, result.Error?.ToString());
    }

    private async Task<string> CreateEndpointAsync(SqlGatewayStore store, string events)
    {
        var result = await new WebhookService(store, _clock).CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/hooks", Events = events.Split(',') }, None);
        Assert.True(result.Ok, result.Error?.ToString());
        return result.Value!.Endpoint.Id;
    }

    /// <summary>The events queued for <paramref name="endpointId"/>, in the order they were queued, with their payloads.</summary>
    private static async Task<List<(string Type, JsonElement Data)>> EventsAsync(EngineStore store, string endpointId)
    {
        await using var connection = await store.OpenRawAsync();
        await using var command = connection.CreateCommand();
        command.CommandText =
            $"SELECT v.type, v.body FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id WHERE d.endpoint_id = '{endpointId}' ORDER BY d.id";
        await using var reader = await command.ExecuteReaderAsync();
        var events = new List<(string, JsonElement)>();
        while (await reader.ReadAsync())
        {
            events.Add((reader.GetString(0), JsonDocument.Parse(reader.GetString(1)).RootElement.GetProperty("data").Clone()));
        }

        return events;
    }

    private static (string UserId, string PlanId, string PeriodStart, long Quota, long Used) Fields(JsonElement data) =>
        (data.GetProperty("user_id").GetString()!, data.GetProperty("plan_id").GetString()!, data.GetProperty("period_start").GetString()!,
            data.GetProperty("quota").GetInt64(), data.GetProperty("used").GetInt64());

    private static UsageEvent Usage(string userId, long units, DateTimeOffset at) => new()
    {
        UserId = userId,
        KeyId = "key_1",
        RouteId = "rt_1",
        UpstreamId = "up_1",
        Method = "GET",
        Path = "/api",
        Status = 200,
        Units = units,
        ClientIp = "127.0.0.1",
        RequestId = Guid.NewGuid().ToString("N"),
        Timestamp = at,
    };
}
