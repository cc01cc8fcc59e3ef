using System.Net;
using System.Net.Http.Headers;
using ApiGate.Core.Management;
using ApiGate.Core.Quotas;
using ApiGate.Gateway.Observability;
using ApiGate.Gateway.Persistence;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Usage;
using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Tests.Persistence;

/// <summary>
/// Issue 10 item 6: another connection holding SQLite's write lock must not stall traffic. Store writes wait on the
/// writer thread (counted as busy), requests and admin reads keep completing, and what was written meanwhile lands
/// once the lock is released.
/// </summary>
public sealed class StoreLockTests : GatewayTestBase
{
    private const int RequestsDuringLock = 30;

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "private", Path = "/private/*", Upstream = "backend", AuthRequired = true });
    }

    [Fact]
    public async Task ProxiedAndAdminRequests_WhileAnotherConnectionHoldsTheWriteLock_AllComplete_AndTheirUsageIsStoredAfterwards()
    {
        // Arrange: a known (cached) key, an admin token, and one request of each before the lock.
        var (key, user, record) = await Gateway.CreateKeyAsync("locked@example.com", new PlanInput { Id = "big", Name = "Big", RequestsPerMonth = 1000 });
        var admin = (await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync("ops", CancellationToken.None)).Value!.Token;
        Assert.Equal(HttpStatusCode.OK, await ProxyAsync(key));
        Assert.Equal(HttpStatusCode.OK, await AdminGetAsync(admin));
        var recorder = Gateway.Service<UsageRecorder>();
        await Poll.UntilAsync(() => recorder.Written >= 1);
        var metrics = Gateway.Service<StoreMetrics>();
        var busyBefore = metrics.BusyTotal;

        // Act: another connection takes the write lock and keeps it while the requests run.
        var completedDuringLock = 0;
        var adminDuringLock = HttpStatusCode.InternalServerError;
        long busyDuringLock;
        await using (var holder = await SqliteWriteLock.HoldAsync(Gateway.DatabasePath))
        {

            for (var i = 0; i < RequestsDuringLock; i++)
            {
                if (await ProxyAsync(key) == HttpStatusCode.OK)
                {
                    completedDuringLock++;
                }
            }

            adminDuringLock = await AdminGetAsync(admin);

            // Keep the lock until the writer has met it (its usage batch waited out at least one busy timeout).
            await Poll.UntilAsync(() => metrics.BusyTotal > busyBefore);
            busyDuringLock = metrics.BusyTotal - busyBefore;
            Assert.True(recorder.Written < 1 + RequestsDuringLock, "nothing can be written while the lock is held");

            await SqliteWriteLock.ReleaseAsync(holder);
        }

        await Poll.UntilAsync(() => recorder.Written >= 1 + RequestsDuringLock);
        // The periodic flush that met the lock is still retrying on the writer thread; a flush queued now runs after it.
        await Gateway.Service<ApiGate.Gateway.Limits.UsageFlusher>().FlushAsync(CancellationToken.None);
        await Gateway.Service<StoreWriter>().RunAsync(_ => Task.CompletedTask, CancellationToken.None);

        // Assert: every request completed while the lock was held, and nothing written meanwhile was lost.
        Assert.Equal(RequestsDuringLock, completedDuringLock);
        Assert.Equal(HttpStatusCode.OK, adminDuringLock);
        Assert.True(busyDuringLock > 0);
        Assert.Equal(0, recorder.Dropped);
        var period = QuotaPeriod.StartOf(DateTimeOffset.UtcNow);
        var usage = await Gateway.Store.GetUsageSummaryAsync(user.Id, period, period.AddMonths(1), CancellationToken.None);
        var quota = (await Gateway.Store.LoadQuotaUsageAsync(period, CancellationToken.None)).Single(q => q.UserId == user.Id);
        Assert.Equal(1 + RequestsDuringLock, usage.Requests);
        Assert.Equal(1 + RequestsDuringLock, quota.Used);
        Assert.NotNull((await Gateway.Store.FindKeyAsync(record.Id, CancellationToken.None))!.LastUsedAt);
        var scrape = await Gateway.Client.GetStringAsync(Gateway.Url + "/metrics");
        Assert.Contains("apigate_store_busy_total", scrape);
        Assert.Contains("apigate_store_lock_wait_seconds_count", scrape);
    }

    [Fact]
    public async Task Start_WhileAnotherConnectionHoldsTheWriteLock_UpToDateStoreStartsAndServes()
    {
        // Arrange: a key used once, then the gateway stopped; another connection takes the write lock.
        var (key, user, _) = await Gateway.CreateKeyAsync("restart@example.com", new PlanInput { Id = "big", Name = "Big", RequestsPerMonth = 1000 });
        Assert.Equal(HttpStatusCode.OK, await ProxyAsync(key));
        await Gateway.StopAsync();
        await using var holder = await SqliteWriteLock.HoldAsync(Gateway.DatabasePath);

        // Act: a gateway starts on the same store (nothing to migrate) while the lock is held, and serves the key.
        await using var restarted = await TestGateway.StartAsync(options => options.StoreBusyTimeout = TimeSpan.FromSeconds(1), directory: Gateway.Directory);
        using var request = new HttpRequestMessage(HttpMethod.Get, restarted.Url + "/private/json");
        request.Headers.Add("X-API-Key", key);
        using var response = await restarted.Client.SendAsync(request);
        Assert.Empty(restarted.Store.MigrationsApplied);
        await SqliteWriteLock.ReleaseAsync(holder);

        // Assert: served during the lock, and its usage written once the lock is gone.
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var recorder = restarted.Service<UsageRecorder>();
        await Poll.UntilAsync(() => recorder.Written >= 1);
        var period = QuotaPeriod.StartOf(DateTimeOffset.UtcNow);
        Assert.Equal(2, (await restarted.Store.GetUsageSummaryAsync(user.Id, period, period.AddMonths(1), CancellationToken.None)).Requests);
    }

    [Fact]
    public async Task AdminWrite_WhileAnotherConnectionHoldsTheWriteLock_Answers503StoreBusyNamingTheStore()
    {
        // Arrange
        var admin = (await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync("ops", CancellationToken.None)).Value!.Token;
        await using var holder = await SqliteWriteLock.HoldAsync(Gateway.DatabasePath);

        // Act: the write waits the busy timeout (2 s) on its request, then gives up with the reason.
        using var response = await CreatePlanAsync(Gateway, admin);
        var body = await response.Content.ReadAsStringAsync();

        // Assert
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("store_busy", body);
        Assert.Contains(Gateway.DatabasePath, body);
    }

    [Fact]
    public async Task AdminWrite_RefusedByTheLockedStore_NoAuditRowIsAttempted_TheLogLineIsTheRecord()
    {
        // Arrange: a gateway whose every log entry is kept, on a store another connection holds locked.
        var logs = new RecordingLoggerProvider();
        await using var gateway = await TestGateway.StartAsync(options => options.LogLevel = "info", services: services => services.AddSingleton<Microsoft.Extensions.Logging.ILoggerProvider>(logs));
        var admin = (await new AdminTokenService(gateway.Store, TimeProvider.System).CreateAsync("ops", CancellationToken.None)).Value!.Token;
        await using var holder = await SqliteWriteLock.HoldAsync(gateway.DatabasePath);

        // Act
        using var response = await CreatePlanAsync(gateway, admin);

        // Assert: answered 503 and logged once (7020); no audit row was tried, so none failed on the same lock (7021).
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Single(logs.Entries, e => e.EventId == 7020 && e.Message.Contains("POST /admin/plans 503", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Entries, e => e.EventId == 7021);
    }

    [Fact]
    public async Task Ready_WhileAnotherConnectionHoldsTheWriteLock_DegradedLockedNamingTheStore_ReadyAgainOnceReleased()
    {
        // Arrange: ready before; then another connection takes the write lock (reads still work, writes would wait).
        var (statusBefore, before) = await ReadyAsync();
        string? stateDuring, reasonDuring, statusDuring, degradedDuring;
        HttpStatusCode codeDuring;
        await using (var holder = await SqliteWriteLock.HoldAsync(Gateway.DatabasePath))
        {
            // Act
            var (code, during) = await ReadyAsync();
            codeDuring = code;
            statusDuring = during.GetProperty("status").GetString();
            degradedDuring = string.Join(",", during.GetProperty("degraded").EnumerateArray().Select(e => e.GetString()));
            stateDuring = during.GetProperty("checks").GetProperty("store").GetString();
            reasonDuring = during.GetProperty("checks").GetProperty("store_reason").GetString();
            await SqliteWriteLock.ReleaseAsync(holder);
        }

        // Ready again once released: the gateway's own writes held back by the lock (its usage batch) may still be on
        // their way through when the lock goes, so this waits (bounded) rather than reading once.
        var (statusAfter, after) = await ReadyAsync();
        for (var i = 0; i < 300 && after.GetProperty("status").GetString() != "ready"; i++)
        {
            await Task.Delay(100);
            (statusAfter, after) = await ReadyAsync();
        }

        // Assert: still ready for traffic (200), but the store is named locked, with the path and what it means.
        Assert.Equal((HttpStatusCode.OK, "ready"), (statusBefore, before.GetProperty("status").GetString()));
        Assert.Equal(HttpStatusCode.OK, codeDuring);
        Assert.Equal("degraded", statusDuring);
        Assert.Equal("store", degradedDuring);
        Assert.Equal("locked", stateDuring);
        Assert.Contains(Gateway.DatabasePath, reasonDuring, StringComparison.Ordinal);
        Assert.Contains("locked by another connection or process", reasonDuring, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, statusAfter);
        Assert.True(after.GetProperty("status").GetString() == "ready", "not ready again within 30 s of the release: " + after);
        Assert.Equal("ok", after.GetProperty("checks").GetProperty("store").GetString());
    }

    [Fact]
    public async Task Ready_WhileTheGatewaysOwnWritesRun_NeverReportsTheStoreLocked()
    {
        // Arrange: a stream of the gateway's own admin writes, which hold SQLite's write lock in turn.
        var admin = (await new AdminTokenService(Gateway.Store, TimeProvider.System).CreateAsync("ops", CancellationToken.None)).Value!.Token;
        var writes = Task.Run(async () =>
        {
            for (var i = 0; i < 40; i++)
            {
                using var response = await CreatePlanAsync(Gateway, admin, "own-" + i);
                Assert.Equal(HttpStatusCode.Created, response.StatusCode);
            }
        });

        // Act: readiness asked all the while.
        var states = new List<string?>();
        while (!writes.IsCompleted)
        {
            var (_, body) = await ReadyAsync();
            states.Add(body.GetProperty("checks").GetProperty("store").GetString());
        }

        await writes;

        // Assert
        Assert.NotEmpty(states);
        Assert.All(states, state => Assert.Equal("ok", state));
    }

    [Fact]
    public async Task Reload_WhileAnotherConnectionHoldsTheWriteLock_ChangeStoredBeforeIsLoadedAndServed()
    {
        // Arrange: a gateway that reloads only when told; a route created by the CLI; then another connection takes the lock.
        await using var gateway = await TestGateway.StartAsync(options => options.ConfigPollInterval = TimeSpan.FromHours(1));
        await gateway.AddUpstreamAsync("backend", Upstream.Url);
        await gateway.ReloadAsync();
        var created = await gateway.CliAsync("routes", "create", "--name", "late", "--path", "/late/*", "--upstream", "backend", "--auth=false");
        var versionBefore = gateway.Snapshots.Current!.Version;
        HttpStatusCode servedDuringLock;
        await using (var holder = await SqliteWriteLock.HoldAsync(gateway.DatabasePath))
        {
            // Act: the reload only reads, so the lock does not hold it up.
            await gateway.ReloadAsync();
            using var response = await gateway.Client.GetAsync(gateway.Url + "/late/x");
            servedDuringLock = response.StatusCode;
            await SqliteWriteLock.ReleaseAsync(holder);
        }

        // Assert
        Assert.True(created.ExitCode == 0, created.Error);
        Assert.Equal(versionBefore + 1, gateway.Snapshots.Current!.Version);
        Assert.Equal(0, gateway.Snapshots.ReloadFailures);
        Assert.Equal(HttpStatusCode.OK, servedDuringLock);
    }

    private async Task<(HttpStatusCode Status, System.Text.Json.JsonElement Body)> ReadyAsync()
    {
        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/health/ready");
        using var document = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, document.RootElement.Clone());
    }

    /// <summary>An admin write: <c>POST /admin/plans</c> with the given admin token.</summary>
    private static Task<HttpResponseMessage> CreatePlanAsync(TestGateway gateway, string adminToken, string id = "late")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, gateway.Url + "/admin/plans")
        {
            Content = new StringContent($$"""{"id":"{{id}}","name":"{{id}}"}""", System.Text.Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
        return gateway.Client.SendAsync(request);
    }

    [Fact]
    public async Task RunAsync_StoreCalls_RunOnTheWriterThreadNotTheCaller()
    {
        var writer = Gateway.Service<StoreWriter>();

        var threadId = await writer.RunAsync(_ => Task.FromResult(Environment.CurrentManagedThreadId), CancellationToken.None);

        Assert.Equal(writer.ThreadId, threadId);
        Assert.NotEqual(Environment.CurrentManagedThreadId, threadId);
    }

    private async Task<HttpStatusCode> ProxyAsync(string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/private/x");
        request.Headers.Add("X-API-Key", key);
        using var response = await Gateway.Client.SendAsync(request);
        return response.StatusCode;
    }

    private async Task<HttpStatusCode> AdminGetAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/admin/plans");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Gateway.Client.SendAsync(request);
        return response.StatusCode;
    }
}
