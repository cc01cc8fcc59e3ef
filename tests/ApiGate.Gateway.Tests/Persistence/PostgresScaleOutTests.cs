using System.Diagnostics;
using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Identity;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Usage;
using ApiGate.Storage;
using Npgsql;

namespace ApiGate.Gateway.Tests.Persistence;

/// <summary>
/// SPEC §12 on PostgreSQL: two gateways (two hosts on their own loopback ports) on one database. A change made through
/// instance 1 reaches instance 2 through LISTEN/NOTIFY — instance 2 polls only once an hour here, so nothing else
/// could bring it (how soon it comes is measured, not asserted: docs/performance.md). And with the database stopped, known keys keep being served and
/// usage waits in memory until the database is back, and the listener re-opens by itself.
/// </summary>
public sealed class PostgresScaleOutTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    /// <summary>
    /// How long a test waits for a change to arrive before it fails: only a bound for a broken build, far longer than a
    /// loaded machine needs and far shorter than <see cref="NeverPolls"/>. The SPEC §12 second is measured on a quiet
    /// machine, not asserted here, where the box is shared.
    /// </summary>
    private static readonly TimeSpan Ceiling = TimeSpan.FromSeconds(20);

    /// <summary>A config poll interval no test lasts: whatever change arrives came by notification.</summary>
    private static readonly TimeSpan NeverPolls = TimeSpan.FromHours(1);

    [PostgresFact]
    public async Task ChangeThroughInstanceOne_InstanceTwoNeverPolling_EnforcedThroughTheNotification()
    {
        // Arrange
        var dsn = await engines.DatabaseAsync();
        await using var upstream = await TestUpstream.StartAsync();
        await using var one = await StartAsync(dsn, TimeSpan.FromMilliseconds(100));
        await using var two = await StartAsync(dsn, NeverPolls);
        await one.AddUpstreamAsync("backend", upstream.Url);
        await one.AddRouteAsync(new RouteInput { Name = "items", Path = "/items/*", Upstream = "backend", AuthRequired = true });
        var (key, user, record) = await one.CreateKeyAsync("two@example.com");
        var (otherKey, _, _) = await one.CreateKeyAsync("other@example.com");

        // Act + Assert: each change made through instance 1 (services as the admin API uses them, and the CLI)
        Assert.Equal(HttpStatusCode.OK, await WaitForAsync(two, "/items/1", key, HttpStatusCode.OK));

        var revoked = await one.CliAsync("keys", "revoke", record.Id);
        Assert.Equal(0, revoked.ExitCode);
        Assert.Equal(HttpStatusCode.Unauthorized, await WaitForAsync(two, "/items/1", key, HttpStatusCode.Unauthorized));

        Assert.Equal(HttpStatusCode.OK, await WaitForAsync(two, "/items/1", otherKey, HttpStatusCode.OK));
        var suspended = await one.Users.UpdateAsync("other@example.com", new UserChanges { Status = Core.Identity.UserStatus.Suspended }, CancellationToken.None);
        Assert.True(suspended.Ok, suspended.Error?.ToString());
        Assert.Equal(HttpStatusCode.Forbidden, await WaitForAsync(two, "/items/1", otherKey, HttpStatusCode.Forbidden));

        var disabled = await one.CliAsync("routes", "disable", "items");
        Assert.Equal(0, disabled.ExitCode);
        Assert.Equal(HttpStatusCode.NotFound, await WaitForAsync(two, "/items/1", otherKey, HttpStatusCode.NotFound));
        Assert.Equal(user.Email, (await two.Store.FindUserAsync(user.Id, CancellationToken.None))?.Email);
    }

    [PostgresFact]
    public async Task ListenerKilledThenChangeBeforeItReopens_InstanceTwoReadsTheMissedChangeWhenItReopens()
    {
        // Arrange: a schema of its own; instance 2 never polls and names its connections, so its LISTEN connection can
        // be found and ended
        var dsn = await engines.NewDsnAsync(GatewayStores.Postgres);
        await using var upstream = await TestUpstream.StartAsync();
        await using var one = await StartAsync(dsn, TimeSpan.FromMilliseconds(100));
        await using var two = await StartAsync(dsn + ";Application Name=listener-killed", NeverPolls);
        await one.AddUpstreamAsync("backend", upstream.Url);
        await one.AddRouteAsync(new RouteInput { Name = "items", Path = "/items/*", Upstream = "backend", AuthRequired = true });
        var (key, _, record) = await one.CreateKeyAsync("missed@example.com");
        Assert.Equal(HttpStatusCode.OK, await WaitForAsync(two, "/items/1", key, HttpStatusCode.OK));

        // Act: the listener is ended by the server, and the key revoked before instance 2 can have listened again
        var ended = await PostgresServer.ScalarAsync(dsn,
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'listener-killed' AND query LIKE 'LISTEN%'");
        var revoked = await one.CliAsync("keys", "revoke", record.Id);

        // Assert: the notification was lost, yet the re-opened listener catches up on what changed meanwhile
        Assert.Equal(1, ended);
        Assert.Equal(0, revoked.ExitCode);
        Assert.Equal(HttpStatusCode.Unauthorized, await WaitForAsync(two, "/items/2", key, HttpStatusCode.Unauthorized));
    }

    [PostgresFact]
    public async Task PostgresStoppedUnderTraffic_KnownKeyServedAndEveryEventWrittenWhenItReturns()
    {
        // Arrange: a server of its own (this test stops it), a route, a key the gateway has already seen; the gateway
        // polls only once an hour, so the change made after the restart can only arrive through the re-opened LISTEN
        await using var server = await PostgresServer.StartAsync();
        var dsn = await server.CreateDatabaseAsync();
        await using var upstream = await TestUpstream.StartAsync();
        await using var gateway = await StartAsync(dsn, NeverPolls);
        await gateway.AddUpstreamAsync("backend", upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "items", Path = "/items/*", Upstream = "backend", AuthRequired = true });
        var (key, user, record) = await gateway.CreateKeyAsync("outage@example.com");
        var (unseen, _, _) = await gateway.CreateKeyAsync("unseen@example.com");
        Assert.Equal(HttpStatusCode.OK, await SendAsync(gateway, "/items/warm", key));
        var recorder = gateway.Service<UsageRecorder>();
        Assert.True(await EventuallyAsync(() => Task.FromResult(recorder.Written == 1)), "the warm-up event was not written");

        // Act: stop PostgreSQL, send traffic, look at readiness and the CLI, start PostgreSQL again
        await server.StopServerAsync();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 40; i++)
        {
            statuses.Add(await SendAsync(gateway, $"/items/{i}", key));
        }

        var unseenStatus = await SendAsync(gateway, "/items/unseen", unseen);
        var ready = await gateway.Client.GetAsync(gateway.Url + "/health/ready");
        var readyBody = await ready.Content.ReadAsStringAsync();
        var cli = await gateway.CliAsync("users", "list");
        await server.StartServerAsync();
        var written = await EventuallyAsync(async () => await CountUsageRowsAsync(dsn) == 41, attempts: 300);
        var summary = await gateway.Store.GetUsageSummaryAsync(user.Id, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), CancellationToken.None);
        var revoke = await gateway.CliAsync("keys", "revoke", record.Id);
        var afterRevoke = await WaitForAsync(gateway, "/items/after", key, HttpStatusCode.Unauthorized);

        // Assert
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unseenStatus);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Contains("\"status\":\"degraded\",\"degraded\":[\"store\"]", readyBody, StringComparison.Ordinal);
        Assert.Contains("\"store\":\"down\"", readyBody, StringComparison.Ordinal);
        Assert.Equal(1, cli.ExitCode);
        Assert.Contains($"cannot connect to PostgreSQL at 127.0.0.1:{server.Port} (APIGATE_DATABASE_DSN", cli.Error, StringComparison.Ordinal);
        Assert.True(written, $"usage rows after PostgreSQL returned: {await CountUsageRowsAsync(dsn)} of 41");
        Assert.Equal(0, recorder.Dropped);
        Assert.Equal(41, summary.Requests);
        Assert.Equal(0, revoke.ExitCode);
        Assert.Equal(HttpStatusCode.Unauthorized, afterRevoke);
        var readyAgain = await gateway.Client.GetAsync(gateway.Url + "/health/ready");
        Assert.Equal(HttpStatusCode.OK, readyAgain.StatusCode);
        Assert.Contains("\"status\":\"ready\"", await readyAgain.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [PostgresFact]
    public async Task DatabaseTakesNoWritesForAWhile_UsageHeldNotDroppedAndWrittenAfter()
    {
        // Arrange: a database of its own, so making it read-only touches no other test
        var server = await PostgresServer.Shared();
        var dsn = await server.CreateDatabaseAsync();
        var database = new NpgsqlConnectionStringBuilder(dsn).Database;
        await using var upstream = await TestUpstream.StartAsync();
        await using var gateway = await StartAsync(dsn, TimeSpan.FromSeconds(30));
        await gateway.AddUpstreamAsync("backend", upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "items", Path = "/items/*", Upstream = "backend", AuthRequired = true });
        var (key, _, _) = await gateway.CreateKeyAsync("standby@example.com");
        var recorder = gateway.Service<UsageRecorder>();
        var store = gateway.Service<ApiGate.Gateway.Observability.StoreMetrics>();
        Assert.Equal(HttpStatusCode.OK, await SendAsync(gateway, "/items/seen", key)); // the key is known (cached) from now on
        await Poll.UntilAsync(() => recorder.Written == 1);

        // Act: the database takes reads only (as a standby the DSN still reaches after a failover does), for new
        // connections and, once its connections are cut, for every one the gateway opens; requests keep coming
        await PostgresServer.ExecuteAsync(server.AdminConnectionString, $"ALTER DATABASE {database} SET default_transaction_read_only = on");
        await PostgresServer.ExecuteAsync(server.AdminConnectionString,
            $"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid()");
        var busyBefore = store.BusyTotal;
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            statuses.Add(await SendAsync(gateway, $"/items/{i}", key));
        }

        // the batch is tried again and again while writes are refused (before: three attempts, then dropped)
        await Poll.UntilAsync(() => store.BusyTotal >= busyBefore + 40);
        var droppedWhileReadOnly = recorder.Dropped;
        await PostgresServer.ExecuteAsync(server.AdminConnectionString, $"ALTER DATABASE {database} SET default_transaction_read_only = off");
        await Poll.UntilAsync(() => recorder.Written == 4);

        // Assert: served throughout, nothing dropped, every event stored once writes are taken again
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(0, droppedWhileReadOnly);
        Assert.Equal(0, recorder.Dropped);
        Assert.Equal(4, await CountUsageRowsAsync(dsn));
    }

    [PostgresFact]
    public async Task TableLockedPastTheStatementTimeoutTheDsnSets_UsageHeldNotDroppedAndWrittenAfter()
    {
        // Arrange: a database of its own, whose connections cancel any statement that runs 300 ms (as a DBA's
        // statement_timeout for the role does)
        var server = await PostgresServer.Shared();
        var dsn = await server.CreateDatabaseAsync();
        await using var upstream = await TestUpstream.StartAsync();
        await using var gateway = await StartAsync(dsn + ";Options=-c statement_timeout=300", TimeSpan.FromSeconds(30));
        await gateway.AddUpstreamAsync("backend", upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "items", Path = "/items/*", Upstream = "backend", AuthRequired = true });
        var (key, _, _) = await gateway.CreateKeyAsync("locked@example.com");
        var recorder = gateway.Service<UsageRecorder>();
        var store = gateway.Service<ApiGate.Gateway.Observability.StoreMetrics>();
        Assert.Equal(HttpStatusCode.OK, await SendAsync(gateway, "/items/seen", key)); // the key is known (cached) from now on
        await Poll.UntilAsync(() => recorder.Written == 1);

        // Act: maintenance holds the usage table locked for longer than the statement timeout, while requests come
        await using var holder = new NpgsqlConnection(dsn + ";Pooling=false");
        await holder.OpenAsync();
        var holding = await holder.BeginTransactionAsync();
        await Dapper.SqlMapper.ExecuteAsync(holder, "LOCK TABLE usage_events IN EXCLUSIVE MODE", transaction: holding);
        var busyBefore = store.BusyTotal;
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            statuses.Add(await SendAsync(gateway, $"/items/{i}", key));
        }

        // long enough for three attempts of 300 ms, 1 s apart, after which a failed batch is dropped
        await Poll.UntilAsync(() => recorder.Dropped > 0 || store.BusyTotal >= busyBefore + 10);
        var droppedWhileLocked = recorder.Dropped;
        await holding.RollbackAsync();
        await Poll.UntilAsync(() => recorder.Written == 4 || recorder.Dropped > 0);

        // Assert: served throughout; the cancelled batch was tried again until the lock went, not dropped
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(0, droppedWhileLocked);
        Assert.Equal(0, recorder.Dropped);
        Assert.Equal(4, await CountUsageRowsAsync(dsn));
    }

    [PostgresFact]
    public async Task UsageBatchCommitAnswerLost_BatchStoredOnce() => await UsageBatchCommitCut_BatchStoredOnceAsync(CommitCuttingProxy.CommitCut.AnswerLost);

    [PostgresFact]
    public async Task UsageBatchCommitNeverReachedTheServer_TransactionLeftOpenThere_BatchStoredOnce() =>
        await UsageBatchCommitCut_BatchStoredOnceAsync(CommitCuttingProxy.CommitCut.NeverSent);

    private static async Task UsageBatchCommitCut_BatchStoredOnceAsync(CommitCuttingProxy.CommitCut cut)
    {
        // Arrange: a database of its own, reached through a proxy that can let a COMMIT through and withhold its answer
        // (the connection breaks as on a restart, a failover or a network cut at that moment)
        var server = await PostgresServer.Shared();
        var dsn = await server.CreateDatabaseAsync();
        await using var proxy = CommitCuttingProxy.Start(server.Port);
        await using var upstream = await TestUpstream.StartAsync();
        await using var gateway = await StartAsync(new NpgsqlConnectionStringBuilder(dsn) { Port = proxy.Port }.ConnectionString, TimeSpan.FromSeconds(30));
        await gateway.AddUpstreamAsync("backend", upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "items", Path = "/items/*", Upstream = "backend", AuthRequired = true });
        var (key, user, _) = await gateway.CreateKeyAsync("commit@example.com");
        var recorder = gateway.Service<UsageRecorder>();

        // Act: the batch of these requests commits and the gateway is not told so; or the COMMIT never arrives, and the
        // server keeps the transaction open (with its locks on the user's quota row) for as long as it is not told otherwise
        proxy.CutNextCommitAfter("COPY usage_events", cut);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            statuses.Add(await SendAsync(gateway, $"/items/{i}", key));
        }

        await Poll.UntilAsync(() => recorder.Written == 5);

        // Assert: the batch counts once — events, quota units — not twice (committed, then written again), and is not
        // left waiting behind its own open transaction
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(1, proxy.Cuts);
        Assert.Equal(0, recorder.Dropped);
        Assert.Equal(5, await CountUsageRowsAsync(dsn));
        Assert.Equal(5, await StoredQuotaAsync(dsn, user.Id));
    }

    [PostgresFact]
    public async Task PostgresHangs_UnseenKeyAndSubject_503AfterOneLookupEach_KnownKeyServed_BothWorkWhenItAnswers()
    {
        // Arrange: a server of its own (this test freezes it), a key the gateway has seen, a key and a JWT subject it has not
        await using var server = await PostgresServer.StartAsync();
        var dsn = await server.CreateDatabaseAsync();
        await using var upstream = await TestUpstream.StartAsync();
        await using var issuer = await TestIssuer.StartAsync();
        var signing = TestIssuer.NewRsaKey("rsa-hang");
        issuer.Publish(signing);
        await using var gateway = await TestGateway.StartAsync(o =>
        {
            o.DatabaseDriver = GatewayStores.Postgres;
            o.DatabaseDsn = dsn;
            o.ConfigPollInterval = TimeSpan.FromSeconds(30);
            o.JwtIssuer = issuer.Url;
            o.JwtAudience = TestIssuer.Audience;
            o.JwtUnknownUser = "create";
        });
        await gateway.AddUpstreamAsync("backend", upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "items", Path = "/items/*", Upstream = "backend", AuthRequired = true });
        await gateway.AddRouteAsync(new RouteInput { Name = "tokens", Path = "/tokens/*", Upstream = "backend", AuthRequired = true, AuthScheme = "jwt" });
        var (key, _, _) = await gateway.CreateKeyAsync("seen@example.com");
        var (unseen, _, _) = await gateway.CreateKeyAsync("unseen@example.com");
        var token = issuer.Token(signing, "subject-hang", "hang@example.com");
        Assert.True(await EventuallyAsync(async () => await SendAsync(gateway, "/items/warm", key) == HttpStatusCode.OK), "the seen key was never served");
        var keys = gateway.Service<ApiKeyAuthenticator>();
        var subjects = gateway.Service<Identity.Jwt.JwtAuthenticator>();
        var (keyLookups, subjectLookups) = (keys.Lookups, subjects.Lookups);

        // Act: freeze PostgreSQL; eight requests with the unseen key and four with the new subject's token at once, then
        // the seen key; let PostgreSQL run again
        HttpResponseMessage[] refused;
        HttpStatusCode known;
        await server.PauseAsync();
        try
        {
            var withKey = Enumerable.Range(0, 8).Select(i => SendFullAsync(gateway, $"/items/unseen-{i}", "X-API-Key", unseen));
            var withToken = Enumerable.Range(0, 4).Select(i => SendFullAsync(gateway, $"/tokens/new-{i}", "Authorization", "Bearer " + token));
            refused = await Task.WhenAll(withKey.Concat(withToken));
            known = await SendAsync(gateway, "/items/known", key);
        }
        finally
        {
            await server.ResumeAsync();
        }

        var (keyLookupsDuring, subjectLookupsDuring) = (keys.Lookups - keyLookups, subjects.Lookups - subjectLookups);
        var unseenAfter = await WaitForAsync(gateway, "/items/after", unseen, HttpStatusCode.OK, TimeSpan.FromSeconds(30));
        var tokenAfter = HttpStatusCode.ServiceUnavailable;
        for (var i = 0; i < 300 && tokenAfter != HttpStatusCode.OK; i++)
        {
            using var again = await SendFullAsync(gateway, "/tokens/after", "Authorization", "Bearer " + token);
            tokenAfter = again.StatusCode;
            await Task.Delay(100);
        }

        // Assert: every refused request is a 503 naming why; the store was asked once for the key and once for the
        // subject, however many requests brought them; the seen key went through the whole time
        foreach (var response in refused.Take(8))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Contains("\"store_unavailable\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        foreach (var response in refused.Skip(8))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Contains("\"jwt_unavailable\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(1, keyLookupsDuring);
        Assert.Equal(1, subjectLookupsDuring);
        Assert.Equal(HttpStatusCode.OK, known);
        Assert.Equal(HttpStatusCode.OK, unseenAfter);
        Assert.Equal(HttpStatusCode.OK, tokenAfter);
        foreach (var response in refused)
        {
            response.Dispose();
        }
    }

    [PostgresFact]
    public async Task PostgresHangs_Readiness_AnswersDegradedWhenTheLookupBoundRunsOut_ReadyAgainWhenItAnswers()
    {
        // Arrange: a server of its own (this test freezes it); the pooled connection the readiness check used is idle
        await using var server = await PostgresServer.StartAsync();
        var dsn = await server.CreateDatabaseAsync();
        await using var gateway = await StartAsync(dsn, TimeSpan.FromSeconds(30));
        using (var warm = await gateway.Client.GetAsync(gateway.Url + "/health/ready"))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        // Act: freeze PostgreSQL (connections stay open, nothing answers), ask for readiness twice, let it run again
        var answers = new List<(HttpStatusCode Status, string Body)>();
        await server.PauseAsync();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                using var ready = await gateway.Client.GetAsync(gateway.Url + "/health/ready");
                answers.Add((ready.StatusCode, await ready.Content.ReadAsStringAsync()));
            }
        }
        finally
        {
            await server.ResumeAsync();
        }

        var recovered = await EventuallyAsync(async () =>
        {
            using var again = await gateway.Client.GetAsync(gateway.Url + "/health/ready");
            return (await again.Content.ReadAsStringAsync()).StartsWith("{\"status\":\"ready\"", StringComparison.Ordinal);
        }, attempts: 300);

        // Assert: each answer is degraded with the store down because the check stopped waiting at the lookup bound (its
        // reason names it) — not because the driver's 30 s command timeout, which a load balancer would not wait for,
        // ended the query (that reason is the driver's). Which one answered is asserted, not how long it took: the
        // machine is shared.
        var bound = $"does not answer (no reply within {StoreLookupGuard.MaxWait.TotalSeconds:0} s)";
        foreach (var (status, body) in answers)
        {
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.StartsWith("{\"status\":\"degraded\",\"degraded\":[\"store\"],", body, StringComparison.Ordinal);
            Assert.Contains("\"store\":\"down\"", body, StringComparison.Ordinal);
            Assert.Contains(bound, body, StringComparison.Ordinal);
        }

        Assert.True(recovered, "readiness did not return to ready after PostgreSQL answered again");
    }

    private static async Task<HttpResponseMessage> SendFullAsync(TestGateway gateway, string path, string header, string value)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + path);
        request.Headers.TryAddWithoutValidation(header, value);
        return await gateway.Client.SendAsync(request);
    }

    [PostgresAndRedisFact]
    public async Task PostgresAndRedisStopped_Readiness_DegradedNamingBothThenReadyAgain()
    {
        // Arrange: a gateway on a PostgreSQL server and a Redis server of its own (this test stops both), a key it has seen
        await using var server = await PostgresServer.StartAsync();
        var dsn = await server.CreateDatabaseAsync();
        await using var redis = await RedisServer.StartAsync();
        await using var upstream = await TestUpstream.StartAsync();
        await using var gateway = await TestGateway.StartAsync(o =>
        {
            o.DatabaseDriver = GatewayStores.Postgres;
            o.DatabaseDsn = dsn;
            o.RedisUrl = redis.Url();
            o.RedisTimeout = TimeSpan.FromMilliseconds(300);
        });
        await gateway.AddUpstreamAsync("backend", upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "items", Path = "/items/*", Upstream = "backend", AuthRequired = true });
        var (key, _, _) = await gateway.CreateKeyAsync("both@example.com");
        Assert.Equal(HttpStatusCode.OK, await SendAsync(gateway, "/items/warm", key));

        // Act: both stopped; one request makes the gateway notice Redis is gone (open mode serves it locally)
        await server.StopServerAsync();
        await redis.StopAsync();
        var during = await SendAsync(gateway, "/items/during", key);
        var ready = await gateway.Client.GetAsync(gateway.Url + "/health/ready");
        var body = await ready.Content.ReadAsStringAsync();
        await server.StartServerAsync();
        await redis.RestartAsync();
        var recovered = await EventuallyAsync(async () =>
        {
            using var again = await gateway.Client.GetAsync(gateway.Url + "/health/ready");
            return (await again.Content.ReadAsStringAsync()).StartsWith("{\"status\":\"ready\"", StringComparison.Ordinal);
        }, attempts: 300);

        // Assert
        Assert.Equal(HttpStatusCode.OK, during);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.StartsWith("{\"status\":\"degraded\",\"degraded\":[\"store\",\"limits\"],", body, StringComparison.Ordinal);
        Assert.Contains("\"store\":\"down\"", body, StringComparison.Ordinal);
        Assert.Contains("\"limits\":\"fallback\"", body, StringComparison.Ordinal);
        Assert.True(recovered, "readiness did not return to ready after PostgreSQL and Redis came back");
    }

    private static Task<TestGateway> StartAsync(string dsn, TimeSpan poll) => TestGateway.StartAsync(o =>
    {
        o.DatabaseDriver = GatewayStores.Postgres;
        o.DatabaseDsn = dsn;
        o.ConfigPollInterval = poll;
    });

    private static async Task<HttpStatusCode> SendAsync(TestGateway gateway, string path, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + path);
        request.Headers.Add("X-API-Key", key);
        using var response = await gateway.Client.SendAsync(request);
        return response.StatusCode;
    }

    /// <summary>Sends until the answer is <paramref name="wanted"/> or <paramref name="within"/> (default <see cref="Ceiling"/>) is spent; returns the last answer.</summary>
    private static async Task<HttpStatusCode> WaitForAsync(TestGateway gateway, string path, string key, HttpStatusCode wanted, TimeSpan? within = null)
    {
        var budget = Stopwatch.StartNew();
        var status = await SendAsync(gateway, path, key);
        while (status != wanted && budget.Elapsed < (within ?? Ceiling))
        {
            await Task.Delay(20);
            status = await SendAsync(gateway, path, key);
        }

        return status;
    }

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition, int attempts = 100)
    {
        for (var i = 0; i < attempts; i++)
        {
            try
            {
                if (await condition())
                {
                    return true;
                }
            }
            catch (NpgsqlException)
            {
                // the server is still starting
            }

            await Task.Delay(100);
        }

        return false;
    }

    private static Task<long> StoredQuotaAsync(string dsn, string userId) =>
        PostgresServer.ScalarAsync(dsn, "SELECT COALESCE(SUM(used), 0)::bigint FROM quota_usage WHERE user_id = @UserId", new { UserId = userId });

    private static Task<long> CountUsageRowsAsync(string dsn) =>
        PostgresServer.ScalarAsync(dsn, "SELECT COUNT(*) FROM usage_events");
}
