using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Core.Webhooks;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;
using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Tests.Webhooks;

/// <summary>
/// Outgoing webhooks end to end, on SQLite and PostgreSQL: a real gateway, the real action (CLI, admin API, proxied
/// traffic) and a receiver on loopback that verifies every signature with the Standard Webhooks library.
/// </summary>
public sealed class WebhookDeliveryTests(StoreEngines engines) : IClassFixture<StoreEngines>, IAsyncLifetime
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
    private readonly List<TestGateway> _gateways = [];
    private readonly List<WebhookReceiver> _receivers = [];
    private string _dsn = "";

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var gateway in _gateways)
        {
            await gateway.StopAsync();
        }

        foreach (var receiver in _receivers)
        {
            await receiver.DisposeAsync();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CliCreatesUserAndKey_ReceiverVerifiesSignatures_UserCreatedAndKeyCreatedDelivered(string engine)
    {
        // Arrange
        var gateway = await StartGatewayAsync(engine);
        var receiver = await StartReceiverAsync();
        await CreateEndpointAsync(gateway, receiver, "user.created,key.created");
        await gateway.Plans.CreateAsync(new PlanInput { Id = "basic", Name = "Basic", IsDefault = true }, None);

        // Act
        var user = await gateway.CliAsync("users", "create", "--email", "ada@example.com", "--json");
        var userId = JsonDocument.Parse(user.Output).RootElement.GetProperty("id").GetString();
        var key = await gateway.CliAsync("keys", "create", "--user", "ada@example.com", "--json");
        var keyJson = JsonDocument.Parse(key.Output).RootElement;

        // Assert
        var keyCreated = await receiver.WaitForAsync("key.created");
        var userCreated = await receiver.WaitForAsync("user.created");
        Assert.Equal(userId, userCreated.Data.GetProperty("user_id").GetString());
        Assert.Equal("ada@example.com", userCreated.Data.GetProperty("email").GetString());
        Assert.Equal("basic", userCreated.Data.GetProperty("plan_id").GetString());
        Assert.Equal(keyJson.GetProperty("id").GetString(), keyCreated.Data.GetProperty("key_id").GetString());
        Assert.Equal(userId, keyCreated.Data.GetProperty("user_id").GetString());
        Assert.Equal(keyJson.GetProperty("prefix").GetString(), keyCreated.Data.GetProperty("prefix").GetString());
        Assert.DoesNotContain(keyJson.GetProperty("key").GetString()!, keyCreated.Body); // the key itself never leaves
        Assert.Equal(["user.created", "key.created"], receiver.Accepted.Select(w => w.Type));
        Assert.Equal(0, receiver.Rejected);
        Assert.All(receiver.Accepted, w => Assert.Equal("application/json; charset=utf-8", w.ContentType)); // as docs/webhooks.md says
        Assert.All(receiver.Accepted, w => Assert.Equal("APIGate-Webhooks", w.UserAgent));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AdminApiRevokesKeyAndChangesPlan_KeyRevokedAndPlanChangedDeliveredInOrder(string engine)
    {
        // Arrange
        var gateway = await StartGatewayAsync(engine);
        var receiver = await StartReceiverAsync();
        await CreateEndpointAsync(gateway, receiver, "key.revoked,plan.changed");
        await gateway.Plans.CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None);
        var (_, user, key) = await gateway.CreateKeyAsync("grace@example.com", new PlanInput { Id = "basic", Name = "Basic" });
        var token = (await new AdminTokenService(gateway.Store, TimeProvider.System).CreateAsync("tests", None)).Value!.Token;

        // Act
        var revoked = await AdminAsync(gateway, token, HttpMethod.Post, $"/keys/{key.Id}/revoke", "{}");
        var changed = await AdminAsync(gateway, token, HttpMethod.Patch, $"/users/{user.Id}", """{"plan":"pro"}""");

        // Assert
        Assert.Equal(HttpStatusCode.OK, revoked);
        Assert.Equal(HttpStatusCode.OK, changed);
        var plan = await receiver.WaitForAsync("plan.changed");
        var revocation = receiver.Accepted.Single(w => w.Type == "key.revoked");
        Assert.Equal(key.Id, revocation.Data.GetProperty("key_id").GetString());
        Assert.Equal(user.Id, plan.Data.GetProperty("user_id").GetString());
        Assert.Equal("basic", plan.Data.GetProperty("previous_plan_id").GetString());
        Assert.Equal("pro", plan.Data.GetProperty("plan_id").GetString());
        Assert.Equal(["key.revoked", "plan.changed"], receiver.Accepted.Select(w => w.Type));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ReceiverDownAtFirst_AttemptsRetriedWithBackOff_DeliveredOnceItIsUp(string engine)
    {
        // Arrange: the endpoint's port has no listener yet
        var gateway = await StartGatewayAsync(engine);
        var port = WebhookReceiver.FreePort();
        var (id, secret) = await CreateEndpointAsync(gateway, null, "key.created", $"http://127.0.0.1:{port}/hooks");

        // Act
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        await WaitForAttemptsAsync(gateway, id, 2);
        var receiver = await StartReceiverAsync(port);
        receiver.Secret = secret;
        var test = await receiver.WaitForAsync("test");
        await WaitForStatusAsync(gateway, id, WebhookDeliveryStatus.Delivered);
        var deliveries = await gateway.CliAsync("webhooks", "deliveries", id);

        // Assert
        var delivery = Assert.Single(await gateway.Store.ListWebhookDeliveriesAsync(id, 10, None));
        Assert.Equal(test.Id, delivery.EventId);
        Assert.True(delivery.Attempts.Count >= 3, $"{delivery.Attempts.Count} attempts");
        Assert.Equal(204, delivery.Attempts[0].StatusCode); // newest first
        Assert.All(delivery.Attempts.Skip(1), a => Assert.Equal(0, a.StatusCode));
        Assert.All(delivery.Attempts.Skip(1), a => Assert.Contains("ConnectionError", a.Error));
        Assert.Equal(id, test.Data.GetProperty("endpoint_id").GetString());
        Assert.Equal(0, deliveries.ExitCode);
        Assert.Contains("delivered", deliveries.Output);
        Assert.Contains("204", deliveries.Output);
        Assert.Contains("ConnectionError", deliveries.Output);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task EventsRecordedWhileGatewayStopped_GatewayRestarts_EachDeliveredExactlyOnce(string engine)
    {
        // Arrange
        var gateway = await StartGatewayAsync(engine);
        var receiver = await StartReceiverAsync();
        var (id, _) = await CreateEndpointAsync(gateway, receiver, "user.created,key.created");
        await gateway.Plans.CreateAsync(new PlanInput { Id = "basic", Name = "Basic", IsDefault = true }, None);
        await gateway.StopAsync();
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = engine, ["APIGATE_DATABASE_DSN"] = _dsn };
        Assert.Equal(0, (await CliRunner.RunAsync(environment, "users", "create", "--email", "lin@example.com")).ExitCode);
        Assert.Equal(0, (await CliRunner.RunAsync(environment, "keys", "create", "--user", "lin@example.com")).ExitCode);

        // Act
        var restarted = await StartGatewayAsync(engine);
        await receiver.WaitForAsync("key.created");
        Assert.Equal(0, (await restarted.CliAsync("webhooks", "test", id)).ExitCode);
        await receiver.WaitForAsync("test"); // recorded after the others: once it is in, nothing else is on its way
        await WaitForStatusAsync(restarted, id, WebhookDeliveryStatus.Delivered); // the receiver answers before the worker records it

        // Assert
        Assert.Equal(["user.created", "key.created", "test"], receiver.Received.Select(w => w.Type));
        Assert.Equal(3, receiver.Received.Select(w => w.Id).Distinct().Count());
        Assert.All(await restarted.Store.ListWebhookDeliveriesAsync(id, 10, None), d => Assert.Equal(WebhookDeliveryStatus.Delivered, d.Status));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task TenKeysWhileReceiverFails_RetriedAndDelivered_InTheOrderTheyWereCreated(string engine)
    {
        // Arrange
        var gateway = await StartGatewayAsync(engine);
        var receiver = await StartReceiverAsync();
        await CreateEndpointAsync(gateway, receiver, "key.created");
        var (_, user, first) = await gateway.CreateKeyAsync("ord@example.com", new PlanInput { Id = "basic", Name = "Basic" });
        receiver.FailNext(3);

        // Act
        var created = new List<string> { first.Id };
        for (var i = 0; i < 9; i++)
        {
            created.Add((await gateway.Keys.CreateAsync(new KeyChanges { User = user.Id }, None)).Value!.Key.Id);
        }

        await receiver.WaitUntilAsync(list => list.Count == 10, "ten key.created");

        // Assert
        Assert.Equal(created, receiver.Accepted.Select(w => w.Data.GetProperty("key_id").GetString()));
        Assert.True(receiver.Received.Count >= 11, $"{receiver.Received.Count} requests"); // the refused ones were sent again
        Assert.Equal(0, receiver.Rejected);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task FortyParallelRequestsOnATwentyUnitQuota_UsageThresholdAndUsageLimitDeliveredOnceEach(string engine)
    {
        // Arrange
        await using var upstream = await TestUpstream.StartAsync();
        var gateway = await StartGatewayAsync(engine);
        var receiver = await StartReceiverAsync();
        var (id, _) = await CreateEndpointAsync(gateway, receiver, "usage.threshold,usage.limit");
        await gateway.AddUpstreamAsync("backend", upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true }, reload: false);
        var (key, user, _) = await gateway.CreateKeyAsync("quota@example.com", new PlanInput { Id = "twenty", Name = "Twenty", RequestsPerMonth = 20 });

        // Act
        using var start = new ManualResetEventSlim();
        var requests = Enumerable.Range(0, 40).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/api/items");
            request.Headers.Add("X-API-Key", key);
            using var response = await gateway.Client.SendAsync(request);
            return response.StatusCode;
        })).ToList();
        start.Set();
        var statuses = await Task.WhenAll(requests);
        await receiver.WaitForAsync("usage.limit");
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        await receiver.WaitForAsync("test"); // recorded after every usage batch of the burst

        // Assert
        Assert.Equal(20, statuses.Count(s => s == HttpStatusCode.OK));
        var threshold = Assert.Single(receiver.Received, w => w.Type == "usage.threshold");
        var limit = Assert.Single(receiver.Received, w => w.Type == "usage.limit");
        Assert.Equal(user.Id, threshold.Data.GetProperty("user_id").GetString());
        Assert.Equal(20, threshold.Data.GetProperty("quota").GetInt64());
        Assert.InRange(threshold.Data.GetProperty("used").GetInt64(), 16, 20);
        Assert.Equal(0.8, threshold.Data.GetProperty("threshold").GetDouble());
        Assert.Equal(20, limit.Data.GetProperty("used").GetInt64());
        Assert.Equal("twenty", limit.Data.GetProperty("plan_id").GetString());
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UserAtNinetyPercentMovedToAHalfSizePlanByTheAdminApi_UsageLimitDeliveredThoughFurtherRequestsAreRefused(string engine)
    {
        // Arrange: one request of 900 units on a 1000-unit plan (usage.threshold sent by its usage batch)
        await using var upstream = await TestUpstream.StartAsync();
        var gateway = await StartGatewayAsync(engine);
        var receiver = await StartReceiverAsync();
        var (id, _) = await CreateEndpointAsync(gateway, receiver, "usage.threshold,usage.limit");
        await gateway.AddUpstreamAsync("backend", upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true, MeteringMode = "custom", MeteringExpr = "900" },
            reload: false);
        await gateway.Plans.CreateAsync(new PlanInput { Id = "half", Name = "Half", RequestsPerMonth = 500 }, None);
        var (key, user, _) = await gateway.CreateKeyAsync("ninety@example.com", new PlanInput { Id = "thousand", Name = "Thousand", RequestsPerMonth = 1000 });
        var token = (await new AdminTokenService(gateway.Store, TimeProvider.System).CreateAsync("tests", None)).Value!.Token;
        Assert.Equal(HttpStatusCode.OK, await GetAsync(gateway, key));
        await receiver.WaitForAsync("usage.threshold");

        // Act
        var changed = await AdminAsync(gateway, token, HttpMethod.Patch, $"/users/{user.Id}", """{"plan":"half"}""");
        await gateway.ReloadAsync();
        var refused = await GetAsync(gateway, key);
        var limit = await receiver.WaitForAsync("usage.limit");
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        await receiver.WaitForAsync("test"); // recorded after the plan change and the refused request

        // Assert: the threshold for the old quota, the limit for the new one, once each
        Assert.Equal(HttpStatusCode.OK, changed);
        Assert.Equal(HttpStatusCode.PaymentRequired, refused); // quota_exceeded: no usage, so no usage batch to find the crossing
        var threshold = Assert.Single(receiver.Received, w => w.Type == "usage.threshold");
        Assert.Single(receiver.Received, w => w.Type == "usage.limit");
        Assert.Equal((1000L, 900L, "thousand"),
            (threshold.Data.GetProperty("quota").GetInt64(), threshold.Data.GetProperty("used").GetInt64(), threshold.Data.GetProperty("plan_id").GetString()));
        Assert.Equal(user.Id, limit.Data.GetProperty("user_id").GetString());
        Assert.Equal((500L, 900L, "half"),
            (limit.Data.GetProperty("quota").GetInt64(), limit.Data.GetProperty("used").GetInt64(), limit.Data.GetProperty("plan_id").GetString()));
        Assert.Equal(0, receiver.Rejected);
    }

    private static async Task<HttpStatusCode> GetAsync(TestGateway gateway, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/api/items");
        request.Headers.Add("X-API-Key", key);
        using var response = await gateway.Client.SendAsync(request);
        return response.StatusCode;
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RedeliverADeliveredTest_SentAgainWithTheSameWebhookId(string engine)
    {
        // Arrange
        var gateway = await StartGatewayAsync(engine);
        var receiver = await StartReceiverAsync();
        var (id, _) = await CreateEndpointAsync(gateway, receiver, "key.created");
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        var test = await receiver.WaitForAsync("test");
        await WaitForStatusAsync(gateway, id, WebhookDeliveryStatus.Delivered);
        var deliveryId = Assert.Single(await gateway.Store.ListWebhookDeliveriesAsync(id, 10, None)).Id;

        // Act
        var redeliver = await gateway.CliAsync("webhooks", "redeliver", deliveryId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await receiver.WaitUntilAsync(list => list.Count(w => w.Id == test.Id) == 2, "the redelivery");

        // Assert
        Assert.Equal(0, redeliver.ExitCode);
        Assert.Contains("pending again", redeliver.Output);
        Assert.Equal([test.Id, test.Id], receiver.Accepted.Select(w => w.Id));
        Assert.Equal(test.Body, receiver.Accepted.Last().Body);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ReceiverRedirectsThenStallsPastTheTimeout_NeitherCountsAsDelivered_ThirdAttemptDelivers(string engine)
    {
        // Arrange
        var gateway = await StartGatewayAsync(engine, TimeSpan.FromMilliseconds(500));
        var receiver = await StartReceiverAsync();
        var (id, _) = await CreateEndpointAsync(gateway, receiver, "key.created");
        receiver.RedirectNext = 1;
        receiver.StallNextMs = 3000;

        // Act
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        await receiver.WaitForAsync("test");
        await WaitForStatusAsync(gateway, id, WebhookDeliveryStatus.Delivered);

        // Assert
        var attempts = Assert.Single(await gateway.Store.ListWebhookDeliveriesAsync(id, 10, None)).Attempts.Reverse().ToList();
        Assert.Equal([0, 307, 204], attempts.Select(a => a.StatusCode)); // stalled, redirected, delivered
        Assert.Equal("timed out after 0.5s", attempts[0].Error);
        Assert.Equal("endpoint answered 307", attempts[1].Error);
        Assert.Equal("", attempts[2].Error);
        Assert.Equal(0, receiver.Elsewhere); // the redirect was not followed
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task OneEndpointHangs_TheOthersDeliveriesGoOnMeanwhile(string engine)
    {
        // Arrange: an endpoint that accepts the connection and never answers, with a timeout far longer than the wait
        // below; and a working one.
        var gateway = await StartGatewayAsync(engine, TimeSpan.FromMinutes(2));
        await using var hung = await ScriptedBackend.StartAsync("");
        var (hungId, _) = await CreateEndpointAsync(gateway, null, "key.created", hung.Url + "/hooks");
        var receiver = await StartReceiverAsync();
        var (id, _) = await CreateEndpointAsync(gateway, receiver, "key.created");

        // Act: the hung endpoint's delivery is in flight first.
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", hungId)).ExitCode);
        await Poll.UntilAsync(() => hung.Connections > 0);

        Assert.Equal(1, hung.Connections);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        }

        // Assert: delivered while the other is still waiting on its endpoint (before, every delivery waited for the
        // slowest of the round: here two minutes).
        await receiver.WaitUntilAsync(list => list.Count(w => w.Type == "test") == 3, "three test events while another endpoint hangs");
        Assert.Empty((await gateway.Store.ListWebhookDeliveriesAsync(hungId, 10, None)).SelectMany(d => d.Attempts)); // still in flight
    }

    [Theory, EngineData(GatewayStores.Sqlite)]
    public async Task EndpointHangsUpWithoutAnswering_TheAttemptSaysSo(string engine)
    {
        // Arrange: reads the request, then closes the connection without a response.
        var gateway = await StartGatewayAsync(engine);
        await using var hangsUp = await ScriptedBackend.StartAsync("", thenClose: true);
        var (id, _) = await CreateEndpointAsync(gateway, null, "key.created", hangsUp.Url + "/hooks");

        // Act
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        await WaitForAttemptsAsync(gateway, id, 1);

        // Assert
        var attempt = Assert.Single(await gateway.Store.ListWebhookDeliveriesAsync(id, 10, None)).Attempts.Last();
        Assert.StartsWith("ResponseEnded: ", attempt.Error, StringComparison.Ordinal);
        Assert.Equal(0, attempt.StatusCode);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task EndpointRefusesWithACharacterAcrossTheCut_AttemptRecordedWithoutHalfOfIt(string engine)
    {
        // Arrange: a refusal whose 200th character is an emoji, two UTF-16 units of which only the first fits in the
        // attempt's error
        var gateway = await StartGatewayAsync(engine);
        var body = new string('x', 199) + "\U0001F600 and more";
        await using var refuses = await ScriptedBackend.StartAsync(
            $"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");
        var (id, _) = await CreateEndpointAsync(gateway, null, "key.created", refuses.Url + "/hooks");

        // Act
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        await WaitForAttemptsAsync(gateway, id, 1);

        // Assert: recorded, ending before the emoji (before, PostgreSQL refused the lone surrogate: the attempt was never
        // recorded, and the delivery was sent again at every lease expiry, never backing off and never given up on)
        var attempt = (await gateway.Store.ListWebhookDeliveriesAsync(id, 10, None)).Single().Attempts.Last();
        Assert.Equal(500, attempt.StatusCode);
        Assert.Equal("endpoint answered 500: " + new string('x', 199), attempt.Error);
    }

    [Theory, EngineData(GatewayStores.Sqlite)]
    public async Task EndpointRefusesWithALineSeparatorAndABidiOverride_AttemptErrorAndLogLineHaveSpacesInstead(string engine)
    {
        // Arrange: a refusal whose body would start a made-up log line (U+2028) and print backwards (U+202E)
        var log = new CapturedLog();
        var gateway = await StartGatewayAsync(engine, log: log);
        var body = "busy\u2028info: delivered\u202Edetaerc";
        await using var refuses = await ScriptedBackend.StartAsync(
            $"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {Encoding.UTF8.GetByteCount(body)}\r\n\r\n{body}");
        var (id, _) = await CreateEndpointAsync(gateway, null, "key.created", refuses.Url + "/hooks");

        // Act
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        await WaitForAttemptsAsync(gateway, id, 1);

        // Assert: kept as one plain line, in the store and in the log
        var attempt = (await gateway.Store.ListWebhookDeliveriesAsync(id, 10, None)).Single().Attempts.Last();
        Assert.Equal(503, attempt.StatusCode);
        Assert.Equal("endpoint answered 503: busy info: delivered detaerc", attempt.Error);
        await Poll.UntilAsync(() => log.Text.Contains("endpoint answered 503: busy info: delivered detaerc", StringComparison.Ordinal));
        Assert.DoesNotContain('\u2028', log.Text);
        Assert.DoesNotContain('\u202E', log.Text);
    }

    [Theory, EngineData(GatewayStores.Sqlite)]
    public async Task EndpointUrlWithATokenInItsQuery_Unreachable_AttemptErrorsAndLogNeverCarryTheToken(string engine)
    {
        // Arrange: the receiver's own token in the query; one endpoint on a port nobody listens on, one that never answers
        var log = new CapturedLog();
        var gateway = await StartGatewayAsync(engine, TimeSpan.FromMilliseconds(300), log: log);
        await using var silent = await ScriptedBackend.StartAsync(""); // accepts, reads, never answers
        var closed = await CreateEndpointAsync(gateway, null, "key.created", $"http://127.0.0.1:{WebhookReceiver.FreePort()}/hooks?token=qtok3n-closed");
        var held = await CreateEndpointAsync(gateway, null, "key.created", silent.Url + "/hooks?token=qtok3n-held");

        // Act
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", closed.Id)).ExitCode);
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", held.Id)).ExitCode);
        await WaitForAttemptsAsync(gateway, closed.Id, 2);
        await WaitForAttemptsAsync(gateway, held.Id, 2);
        var deliveries = await gateway.CliAsync("webhooks", "deliveries", closed.Id);

        // Assert: each failure recorded with its cause, and the token in no error, log line or delivery listing
        var attempts = (await gateway.Store.ListWebhookDeliveriesAsync(closed.Id, 10, None)).Single().Attempts
            .Concat((await gateway.Store.ListWebhookDeliveriesAsync(held.Id, 10, None)).Single().Attempts).ToList();
        Assert.Contains(attempts, a => a.Error.Contains("ConnectionError", StringComparison.Ordinal));
        Assert.Contains(attempts, a => a.Error.Contains("timed out", StringComparison.OrdinalIgnoreCase) || a.Error.Contains("Timeout", StringComparison.Ordinal));
        Assert.All(attempts, a => Assert.DoesNotContain("qtok3n", a.Error, StringComparison.Ordinal));
        await Poll.UntilAsync(() => log.Text.Contains(held.Id, StringComparison.Ordinal) && log.Text.Contains(closed.Id, StringComparison.Ordinal));
        Assert.DoesNotContain("qtok3n", log.Text, StringComparison.Ordinal);
        Assert.Equal(0, deliveries.ExitCode);
        Assert.DoesNotContain("qtok3n", deliveries.Output, StringComparison.Ordinal);
    }

    [Theory, EngineData(GatewayStores.Sqlite)]
    public async Task EndpointRefusesThenNeverFinishesTheBody_AttemptKeepsItsStatusAndWhatArrived(string engine)
    {
        // Arrange: a 500 whose headers promise more body than ever comes, the connection held open
        var gateway = await StartGatewayAsync(engine, TimeSpan.FromMilliseconds(500));
        await using var refuses = await ScriptedBackend.StartAsync(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\ndatabase is down");
        var (id, _) = await CreateEndpointAsync(gateway, null, "key.created", refuses.Url + "/hooks");

        // Act
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        await WaitForAttemptsAsync(gateway, id, 1);

        // Assert: the endpoint did answer, and said why (before, the attempt read "timed out" with no status code)
        var attempt = (await gateway.Store.ListWebhookDeliveriesAsync(id, 10, None)).Single().Attempts.Last();
        Assert.Equal(500, attempt.StatusCode);
        Assert.Equal("endpoint answered 500: database is down", attempt.Error);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task EndpointAnswersAStatusLineWithNulAndEscape_AttemptRecordedOnOneLineAndRetried(string engine)
    {
        // Arrange: a status line the client refuses and quotes in its message: a NUL (which PostgreSQL refuses to store)
        // and an escape sequence that would clear a terminal's line
        var gateway = await StartGatewayAsync(engine);
        await using var garbled = await ScriptedBackend.StartAsync("HTTP/1.1 2\u0000\u001b[2K\rdelivered\r\n\r\n", thenClose: true);
        var (id, _) = await CreateEndpointAsync(gateway, null, "key.created", garbled.Url + "/hooks");

        // Act
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        await WaitForAttemptsAsync(gateway, id, 1);

        // Assert: recorded, the quoted characters made spaces (before, PostgreSQL refused the attempt: it was never
        // recorded, and the delivery was sent again at every lease expiry, never backing off and never given up on)
        var delivery = (await gateway.Store.ListWebhookDeliveriesAsync(id, 10, None)).Single();
        var attempt = delivery.Attempts.Last();
        Assert.Equal(0, attempt.StatusCode);
        Assert.Equal("InvalidResponse: Received an invalid status code: '2  '.", attempt.Error);
        Assert.Equal(WebhookDeliveryStatus.Pending, delivery.Status);
        Assert.True(delivery.NextAttemptAt > attempt.AttemptedAt, "the next attempt waits a back-off step");
    }

    [Theory, EngineData(GatewayStores.Sqlite)]
    public async Task EndpointAnswersAHugeInvalidHeaderLine_AttemptErrorAndLogLineBounded(string engine)
    {
        // Arrange: a header line of 30,000 characters the client refuses, quoting all of it in its message
        var log = new CapturedLog();
        var gateway = await StartGatewayAsync(engine, log: log);
        await using var garbled = await ScriptedBackend.StartAsync("HTTP/1.1 500 No\r\nX-" + new string('a', 30_000) + " bad\r\n\r\n", thenClose: true);
        var (id, _) = await CreateEndpointAsync(gateway, null, "key.created", garbled.Url + "/hooks");

        // Act
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        await WaitForAttemptsAsync(gateway, id, 1);

        // Assert: the first 500 characters kept (before, all 30,060 were stored with every attempt and logged with each)
        var attempt = (await gateway.Store.ListWebhookDeliveriesAsync(id, 10, None)).Single().Attempts.Last();
        Assert.Equal(0, attempt.StatusCode);
        Assert.Equal(500, attempt.Error.Length);
        Assert.StartsWith("InvalidResponse: Received an invalid header line: 'X-aaa", attempt.Error, StringComparison.Ordinal);
        await Poll.UntilAsync(() => log.Text.Contains("[9601]", StringComparison.Ordinal));
        Assert.DoesNotContain(new string('a', 501), log.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30", 30)]
    [InlineData("172800", 3600)]
    [InlineData("Fri, 01 Jan 2100 00:00:00 GMT", 3600)]
    public async Task EndpointAnswers429WithRetryAfter_NextAttemptWaitsWhatItAsksAtMostAnHour(string retryAfter, int expectedSeconds)
    {
        // Arrange: a rate-limited receiver asking for a wait far longer than the first back-off step (100 ms here)
        var gateway = await StartGatewayAsync(GatewayStores.Sqlite);
        await using var limited = await ScriptedBackend.StartAsync(
            $"HTTP/1.1 429 Too Many Requests\r\nRetry-After: {retryAfter}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", thenClose: true);
        var (id, _) = await CreateEndpointAsync(gateway, null, "key.created", limited.Url + "/hooks");

        // Act
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        await WaitForAttemptsAsync(gateway, id, 1);

        // Assert: the next attempt is when the endpoint asked, bounded by the longest wait between two attempts (before,
        // it came 100 ms later, and again at every back-off step while the endpoint was still refusing)
        var delivery = (await gateway.Store.ListWebhookDeliveriesAsync(id, 10, None)).Single();
        var attempt = Assert.Single(delivery.Attempts);
        Assert.Equal(429, attempt.StatusCode);
        Assert.Equal(WebhookDeliveryStatus.Pending, delivery.Status);
        var wait = delivery.NextAttemptAt - attempt.AttemptedAt;
        Assert.InRange(wait, TimeSpan.FromSeconds(expectedSeconds), TimeSpan.FromSeconds(expectedSeconds + 5));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task EndpointAnswers410Gone_EndpointDisabledAndItsDeliveryWaitsUnsent(string engine)
    {
        // Arrange: a receiver whose owner has taken it down for good
        var log = new CapturedLog();
        var gateway = await StartGatewayAsync(engine, log: log);
        await using var gone = await ScriptedBackend.StartAsync("HTTP/1.1 410 Gone\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", thenClose: true);
        var (id, _) = await CreateEndpointAsync(gateway, null, "key.created", gone.Url + "/hooks");

        // Act: the first attempt, then ten back-off steps (100 ms each here) in which it would have been sent again
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        await WaitForAttemptsAsync(gateway, id, 1);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var endpoint = (await gateway.Store.FindWebhookEndpointAsync(id, None))!;

        // Assert: disabled as the operator would disable it (before, it was sent every event again at every back-off step
        // for 24 hours); the delivery kept, pending, for when the endpoint is enabled again
        var delivery = (await gateway.Store.ListWebhookDeliveriesAsync(id, 10, None)).Single();
        Assert.False(endpoint.Enabled);
        Assert.Equal(WebhookDeliveryStatus.Pending, delivery.Status);
        Assert.Equal([410], delivery.Attempts.Select(a => a.StatusCode));
        Assert.Equal(1, gone.Connections);
        Assert.Contains($"Webhook endpoint {id} answered 410 Gone to delivery {delivery.Id}", log.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GatewayStarts_WebhookHistoryPastTheRetention_PrunedAndLogged()
    {
        // Arrange: an event recorded forty days ago that no endpoint took, then a restart (a round prunes at start). The
        // events are written while no gateway runs: the first gateway's own start prune runs on the thread pool after
        // it listens, and on a busy machine it came after events written through it, deleted the old one itself, and
        // left the second nothing to prune or log.
        var first = await StartGatewayAsync(GatewayStores.Sqlite);
        await first.StopAsync();
        var old = WebhookEvent.Create(WebhookEventTypes.PlanChanged, new System.Text.Json.Nodes.JsonObject(), null, DateTimeOffset.UtcNow.AddDays(-40));
        var kept = WebhookEvent.Create(WebhookEventTypes.PlanChanged, new System.Text.Json.Nodes.JsonObject(), null, DateTimeOffset.UtcNow.AddDays(-1));
        await using (var offline = GatewayStores.Create(GatewayStores.Sqlite, _dsn, new SecretProtector(null)))
        {
            await offline.AddWebhookEventAsync(old, null, None);
            await offline.AddWebhookEventAsync(kept, null, None);
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var log = new CapturedLog();

        // Act
        await StartGatewayAsync(GatewayStores.Sqlite, log: log, logLevel: "info");
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + _dsn);
        await connection.OpenAsync();
        await Poll.UntilAsync(
            () => log.Text.Contains("Webhook history pruned", StringComparison.Ordinal),
            () => "events in the store: " + string.Join(", ", Dapper.SqlMapper.Query<string>(connection, "SELECT id FROM webhook_events ORDER BY seq")) + "\n" + log.Text);

        // Assert: the default thirty days kept
        var left = (await Dapper.SqlMapper.QueryAsync<string>(connection, "SELECT id FROM webhook_events ORDER BY seq")).ToList();
        Assert.Equal([kept.Id], left);
        Assert.Contains("Webhook history pruned: 0 finished deliveries and 1 events from before", log.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HistoryPrune_StoreHeldLockedByAnotherConnection_FailsAndIsRetriedAMinuteLaterThenSucceeds()
    {
        // Arrange: a gateway on a fake clock whose store waits a second for a lock; an event half an hour inside the
        // thirty days kept, and one a day old
        var logs = new RecordingLoggerProvider();
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        var gateway = await TestGateway.StartAsync(o =>
        {
            o.WebhookPollInterval = TimeSpan.FromSeconds(1);
            o.StoreBusyTimeout = TimeSpan.FromSeconds(1);
            o.LogLevel = "info"; // the prune's line is Information
        }, _directory, clock, services => services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(logs));
        _gateways.Add(gateway);
        var old = WebhookEvent.Create(WebhookEventTypes.PlanChanged, new System.Text.Json.Nodes.JsonObject(), null, clock.GetUtcNow().AddDays(-30).AddMinutes(30));
        var kept = WebhookEvent.Create(WebhookEventTypes.PlanChanged, new System.Text.Json.Nodes.JsonObject(), null, clock.GetUtcNow().AddDays(-1));
        await gateway.Store.AddWebhookEventAsync(old, null, None);
        await gateway.Store.AddWebhookEventAsync(kept, null, None);

        // Act: to a second before the hourly prune (a fake clock's advance runs every timer due on the way, so the way
        // is kept short, and the prune cannot fail and be retried on it before the lock is taken), then, while another
        // connection holds the store's write lock, past it, with the old event now past the retention
        clock.Advance(ApiGate.Gateway.Webhooks.WebhookDeliveryWorker.PruneInterval - TimeSpan.FromSeconds(1));
        var holder = await SqliteWriteLock.HoldAsync(gateway.DatabasePath);
        try
        {
            clock.Advance(TimeSpan.FromSeconds(2));
            await Poll.UntilAsync(() => logs.Entries.Any(e => e.EventId == 9608), () => "entries " + logs.Entries.Count + ": " + string.Join(" | ", logs.Entries.Select(e => $"{e.EventId} {e.Category} {e.Message}")));
        }
        finally
        {
            await SqliteWriteLock.ReleaseAsync(holder);
            await holder.DisposeAsync();
        }

        var failedAt = clock.GetUtcNow();
        await Poll.UntilAsync(() =>
        {
            // The clock moves on a second at a time (the poll interval) until the history has been pruned.
            if (!logs.Entries.Any(e => e.EventId == 9607) && clock.GetUtcNow() - failedAt < TimeSpan.FromMinutes(10))
            {
                clock.Advance(TimeSpan.FromSeconds(1));
            }

            return logs.Entries.Any(e => e.EventId == 9607);
        }, () => (clock.GetUtcNow() - failedAt) + " entries: " + string.Join(" | ", logs.Entries.Where(e => e.EventId >= 9600 && e.EventId < 9700).Select(e => $"{e.EventId} {e.Message}")));

        // Assert: the refusal said it would try again in a minute; the retry came minutes after it, not the hour after,
        // and deleted the old event only
        var prunedAfter = clock.GetUtcNow() - failedAt;
        Assert.StartsWith("Webhook history could not be pruned (StoreBusyException: ", logs.Entries.First(e => e.EventId == 9608).Message, StringComparison.Ordinal);
        Assert.EndsWith("; trying again in a minute", logs.Entries.First(e => e.EventId == 9608).Message, StringComparison.Ordinal);
        Assert.InRange(prunedAfter, TimeSpan.FromMinutes(1) - TimeSpan.FromSeconds(3), TimeSpan.FromMinutes(10)); // failed 0–2 s before failedAt
        Assert.StartsWith("Webhook history pruned: 0 finished deliveries and 1 events from before", Assert.Single(logs.Entries, e => e.EventId == 9607).Message, StringComparison.Ordinal);
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + gateway.DatabasePath);
        await connection.OpenAsync();
        Assert.Equal([kept.Id], await Dapper.SqlMapper.QueryAsync<string>(connection, "SELECT id FROM webhook_events ORDER BY seq"));
    }

    [Fact]
    public async Task AttemptCannotBeRecorded_LogLineNamesTheEndpointTheDeliveryAndTheEvent()
    {
        // Arrange: every log entry kept; an endpoint that holds the request past a short timeout; a store another
        // connection will hold locked longer than the gateway waits for it
        var logs = new RecordingLoggerProvider();
        var gateway = await TestGateway.StartAsync(o =>
        {
            o.WebhookTimeout = TimeSpan.FromSeconds(1);
            o.WebhookPollInterval = TimeSpan.FromMilliseconds(100);
            o.StoreBusyTimeout = TimeSpan.FromSeconds(1);
        }, _directory, services: services => services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(logs));
        _gateways.Add(gateway);
        await using var hung = await ScriptedBackend.StartAsync("");
        var (id, _) = await CreateEndpointAsync(gateway, null, "key.created", hung.Url + "/hooks");
        var test = await gateway.CliAsync("webhooks", "test", id, "--json");
        var eventId = JsonDocument.Parse(test.Output).RootElement.GetProperty("event_id").GetString()!;
        await Poll.UntilAsync(() => hung.Connections == 1);

        // Act: the attempt times out while the store is locked, so it cannot be recorded
        var holder = await SqliteWriteLock.HoldAsync(gateway.DatabasePath);
        try
        {
            await Poll.UntilAsync(() => logs.Entries.Any(e => e.EventId == 9604));
        }
        finally
        {
            await SqliteWriteLock.ReleaseAsync(holder);
            await holder.DisposeAsync();
        }

        // Assert: as docs/webhooks.md says of every log line (before, 9604 named the delivery only)
        var line = Assert.Single(logs.Entries, e => e.EventId == 9604).Message;
        var deliveryId = Assert.Single(await gateway.Store.ListWebhookDeliveriesAsync(id, 10, None)).Id;
        Assert.StartsWith($"Webhook delivery {deliveryId} to endpoint {id} (event {eventId}): the attempt could not be recorded", line, StringComparison.Ordinal);
    }

    [Theory, EngineData(GatewayStores.Sqlite)]
    public async Task EndpointWhoseSecretCannotSign_AttemptRecordedAsFailedNotResentForever(string engine)
    {
        // Arrange: an endpoint row whose secret is not base64 (written around the service's checks, as a damaged or
        // hand-edited store would hold it)
        var gateway = await StartGatewayAsync(engine);
        var receiver = await StartReceiverAsync();
        var now = DateTimeOffset.UtcNow;
        await gateway.Store.CreateWebhookEndpointAsync(new WebhookEndpointDefinition
        {
            Id = "wh_damaged", Url = receiver.Url, Events = [WebhookEventTypes.Test], Secret = "whsec_not*base64!", CreatedAt = now, UpdatedAt = now,
        }, None);

        // Act
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", "wh_damaged")).ExitCode);
        await WaitForAttemptsAsync(gateway, "wh_damaged", 1);

        // Assert: the attempt is recorded with why it failed (before, the round failed and the delivery was claimed
        // again at every lease expiry, never recorded and never given up on); nothing reached the receiver
        var attempt = Assert.Single(await gateway.Store.ListWebhookDeliveriesAsync("wh_damaged", 10, None)).Attempts.Last();
        Assert.StartsWith("FormatException: ", attempt.Error, StringComparison.Ordinal);
        Assert.Empty(receiver.Received);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task EndpointSecretWrittenWithAnotherKey_OtherEndpointsStillDelivered_ItsAttemptNamesTheKey(string engine)
    {
        // Arrange: two endpoints subscribed to user.created, one of them created with an APIGATE_SECRET_KEY this
        // gateway does not have (a typo in one shell, a key changed since)
        var gateway = await StartGatewayAsync(engine);
        var receiver = await StartReceiverAsync();
        await CreateEndpointAsync(gateway, receiver, "user.created");
        await using var otherKey = GatewayStores.Create(engine, _dsn, new SecretProtector("another key"));
        await otherKey.InitializeAsync(None);
        var unreadable = (await new WebhookService(otherKey, TimeProvider.System).CreateAsync(
            new WebhookInput { Url = receiver.Url, Events = ["user.created"] }, None)).Value!.Endpoint.Id;
        await gateway.Plans.CreateAsync(new PlanInput { Id = "basic", Name = "Basic", IsDefault = true }, None);

        // Act
        Assert.Equal(0, (await gateway.CliAsync("users", "create", "--email", "kim@example.com")).ExitCode);

        // Assert: the readable endpoint gets its event (before, every claim failed on the other one's secret, so no
        // endpoint got anything); the other one's attempt says why, and nothing was sent to it
        await receiver.WaitForAsync("user.created");
        await WaitForAttemptsAsync(gateway, unreadable, 1);
        var attempt = Assert.Single(await gateway.Store.ListWebhookDeliveriesAsync(unreadable, 10, None)).Attempts.Last();
        Assert.Contains("APIGATE_SECRET_KEY", attempt.Error);
        Assert.Equal(0, attempt.StatusCode);
        Assert.Single(receiver.Received);
        Assert.Equal(0, receiver.Rejected);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task GatewayStopsDuringAnAttempt_DeliveryStaysPendingAndDue_NextGatewayDeliversIt(string engine)
    {
        // Arrange: an endpoint that never answers, a timeout far longer than the test, and a maximum age shorter than
        // the first back-off step (as for a delivery in the last hour of its 24)
        var gateway = await StartGatewayAsync(engine, TimeSpan.FromMinutes(2), maxAge: TimeSpan.FromMilliseconds(100));
        await using var hung = await ScriptedBackend.StartAsync("");
        var (id, secret) = await TestSentToHungEndpointAsync(gateway, hung);

        // Act: the gateway stops while the attempt waits for an answer; the endpoint then answers at another URL
        await gateway.StopAsync();
        await using var store = GatewayStores.Create(engine, _dsn, new SecretProtector(null));
        await store.InitializeAsync(None);
        var afterStop = Assert.Single(await store.ListWebhookDeliveriesAsync(id, 10, None));
        var receiver = await StartReceiverAsync();
        receiver.Secret = secret;
        Assert.True((await new WebhookService(store, TimeProvider.System).UpdateAsync(id, new WebhookInput { Url = receiver.Url }, None)).Ok);
        await StartGatewayAsync(engine, maxAge: TimeSpan.FromMilliseconds(100));

        // Assert: the interrupted attempt is listed, but the endpoint did not refuse anything: the delivery is still
        // pending and due at once (before, it was failed for good, or waited for the next back-off step)
        Assert.Equal("gateway stopping", Assert.Single(afterStop.Attempts).Error);
        Assert.Equal(WebhookDeliveryStatus.Pending, afterStop.Status);
        Assert.True(afterStop.NextAttemptAt <= afterStop.Attempts[0].AttemptedAt, $"next attempt {afterStop.NextAttemptAt:O}");
        await receiver.WaitForAsync("test");
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task GatewayStopsDuringAnAttempt_EndpointThenRefuses_BackOffIsTheFirstStep(string engine)
    {
        // Arrange: an attempt cut short by the gateway stopping, with a back-off step long enough that one step and two
        // cannot be mistaken for each other
        var retryBase = TimeSpan.FromMinutes(20);
        var gateway = await StartGatewayAsync(engine, TimeSpan.FromMinutes(2), retryBase: retryBase);
        await using var hung = await ScriptedBackend.StartAsync("");
        var (id, secret) = await TestSentToHungEndpointAsync(gateway, hung);
        await gateway.StopAsync();
        var receiver = await StartReceiverAsync();
        receiver.Secret = secret;
        receiver.FailNext(1);
        await using (var store = GatewayStores.Create(engine, _dsn, new SecretProtector(null)))
        {
            await store.InitializeAsync(None);
            Assert.True((await new WebhookService(store, TimeProvider.System).UpdateAsync(id, new WebhookInput { Url = receiver.Url }, None)).Ok);
        }

        // Act: the next gateway sends it, and the endpoint refuses
        var restarted = await StartGatewayAsync(engine, retryBase: retryBase);
        await WaitForAttemptsAsync(restarted, id, 2);

        // Assert: the refusal is the delivery's first failure, so it waits one step (before, the interrupted attempt
        // counted as a failure too and the wait was two steps)
        var delivery = Assert.Single(await restarted.Store.ListWebhookDeliveriesAsync(id, 10, None));
        Assert.Equal(WebhookDeliveryStatus.Pending, delivery.Status);
        Assert.Equal([503, 0], delivery.Attempts.Select(a => a.StatusCode));
        Assert.Equal("gateway stopping", delivery.Attempts[1].Error);
        var wait = delivery.NextAttemptAt - delivery.Attempts[0].AttemptedAt;
        Assert.True(wait >= retryBase && wait < retryBase * 2, $"waits {wait} after the refusal");
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AdminApiCreatesUserOnTheServingGateway_SentAtOnceNotAtTheNextPoll(string engine)
    {
        // Arrange: a poll interval far longer than the wait below, so only the serving gateway's own wake-up can send it
        var gateway = await StartGatewayAsync(engine, pollInterval: TimeSpan.FromMinutes(10));
        var receiver = await StartReceiverAsync();
        await CreateEndpointAsync(gateway, receiver, "user.created");
        await gateway.Plans.CreateAsync(new PlanInput { Id = "basic", Name = "Basic", IsDefault = true }, None);
        var token = (await new AdminTokenService(gateway.Store, TimeProvider.System).CreateAsync("tests", None)).Value!.Token;

        // Act
        var created = await AdminAsync(gateway, token, HttpMethod.Post, "/users", """{"email":"now@example.com"}""");

        // Assert: recorded by the store in the user's transaction, not through the publisher: before, it waited for the poll
        Assert.Equal(HttpStatusCode.Created, created);
        var userCreated = await receiver.WaitForAsync("user.created");
        Assert.Equal("now@example.com", userCreated.Data.GetProperty("email").GetString());
    }

    /// <summary>An endpoint at <paramref name="hung"/> (which never answers) and a test event sent to it: the attempt is in flight when this returns.</summary>
    private static async Task<(string Id, string Secret)> TestSentToHungEndpointAsync(TestGateway gateway, ScriptedBackend hung)
    {
        var (id, secret) = await CreateEndpointAsync(gateway, null, "key.created", hung.Url + "/hooks");
        Assert.Equal(0, (await gateway.CliAsync("webhooks", "test", id)).ExitCode);
        await Poll.UntilAsync(() => hung.Connections > 0);
        Assert.Equal(1, hung.Connections);
        return (id, secret);
    }

    private async Task<TestGateway> StartGatewayAsync(
        string engine, TimeSpan? timeout = null, TimeSpan? maxAge = null, TimeSpan? pollInterval = null, TimeSpan? retryBase = null, CapturedLog? log = null,
        string? logLevel = null)
    {
        if (_dsn.Length == 0)
        {
            _dsn = engine == GatewayStores.Sqlite ? Path.Combine(_directory, "apigate.db") : await engines.NewDsnAsync(engine);
        }

        var gateway = await TestGateway.StartAsync(o =>
        {
            o.DatabaseDriver = engine;
            o.DatabaseDsn = _dsn;
            o.WebhookRetryBase = retryBase ?? TimeSpan.FromMilliseconds(100);
            o.WebhookPollInterval = pollInterval ?? TimeSpan.FromMilliseconds(100);
            o.WebhookTimeout = timeout ?? o.WebhookTimeout;
            o.WebhookMaxAge = maxAge ?? o.WebhookMaxAge;
            o.LogWriter = log?.Writer ?? o.LogWriter;
            o.LogLevel = logLevel ?? o.LogLevel;
        }, _directory);
        _gateways.Add(gateway);
        return gateway;
    }

    private async Task<WebhookReceiver> StartReceiverAsync(int? port = null)
    {
        var receiver = await WebhookReceiver.StartAsync(port);
        _receivers.Add(receiver);
        return receiver;
    }

    /// <summary>Creates the endpoint with the CLI, as an operator does, and gives the receiver its secret.</summary>
    private static async Task<(string Id, string Secret)> CreateEndpointAsync(TestGateway gateway, WebhookReceiver? receiver, string events, string? url = null)
    {
        var created = await gateway.CliAsync("webhooks", "create", "--url", url ?? receiver!.Url, "--events", events, "--json");
        Assert.True(created.ExitCode == 0, created.Error);
        var json = JsonDocument.Parse(created.Output).RootElement;
        var secret = json.GetProperty("secret").GetString()!;
        if (receiver is not null)
        {
            receiver.Secret = secret;
        }

        return (json.GetProperty("id").GetString()!, secret);
    }

    private static async Task<HttpStatusCode> AdminAsync(TestGateway gateway, string token, HttpMethod method, string path, string body)
    {
        using var request = new HttpRequestMessage(method, gateway.Url + "/admin" + path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await gateway.Client.SendAsync(request);
        return response.StatusCode;
    }

    private static async Task WaitForAttemptsAsync(TestGateway gateway, string endpointId, int attempts)
    {
        for (var i = 0; i < 600; i++) // bounded: 30 s
        {
            var deliveries = await gateway.Store.ListWebhookDeliveriesAsync(endpointId, 10, None);
            if (deliveries.Sum(d => d.Attempts.Count) >= attempts)
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"fewer than {attempts} attempts were recorded");
    }

    private static async Task WaitForStatusAsync(TestGateway gateway, string endpointId, string status)
    {
        for (var i = 0; i < 600; i++) // bounded: 30 s
        {
            var deliveries = await gateway.Store.ListWebhookDeliveriesAsync(endpointId, 10, None);
            if (deliveries.Count > 0 && deliveries.All(d => d.Status == status))
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"the deliveries never were all {status}");
    }
}
