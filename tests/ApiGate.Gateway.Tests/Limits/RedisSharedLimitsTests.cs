using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Core.Quotas;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Limits;
using ApiGate.Gateway.Tests.Auth;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Limits;

/// <summary>
/// Two real gateways on loopback sharing one SQLite file and one redis-server: together they admit exactly what one
/// would; when Redis stops under traffic they behave as configured (open: served and counted locally; closed: 503
/// limits_unavailable), nothing hangs, and once Redis is back the exact limits resume with the local units added.
/// Runs alone: the Redis gauges it reads are process-wide instruments, so another test's gateways running at the same
/// time would be summed into them.
/// </summary>
[Collection(ProcessWideCollection.Name)]
public sealed class RedisSharedLimitsTests : IAsyncLifetime
{
    private readonly string _prefix = $"t{Guid.NewGuid():N}:";
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
    private readonly List<TestGateway> _gateways = [];
    private readonly List<RedisServer> _ownServers = [];
    private TestUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await TestUpstream.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var gateway in _gateways)
        {
            await gateway.StopAsync(); // stopped, not disposed: they share one directory
        }

        foreach (var server in _ownServers)
        {
            await server.DisposeAsync();
        }

        await _upstream.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    [RedisFact]
    public async Task TwoInstances_200ParallelRequestsOnA20PerMinutePlan_AdmitExactlyTheBucketCapacity()
    {
        // Arrange: one frozen clock for both instances, so no token refills during the burst: capacity = 20 + burst 5.
        var redis = await RedisServer.Shared;
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (one, two) = await StartPairAsync(redis.Url(), "open", clock);
        var key = await CreateKeyAsync(one, two, new PlanInput { Id = "twenty", Name = "Twenty", RateLimitPerMinute = 20 });

        // Act
        var responses = await SendSplitAsync(one, two, key, 200);

        // Assert
        Assert.Equal(25, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(175, responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
        Assert.Equal(25, _upstream.Received.Count);
        await AuthenticationTests.AssertErrorAsync(responses.First(r => r.StatusCode == HttpStatusCode.TooManyRequests), HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
    }

    [RedisFact]
    public async Task TwoInstances_50UnitMonthlyQuota_AdmitExactly50AcrossBoth()
    {
        var redis = await RedisServer.Shared;
        var (one, two) = await StartPairAsync(redis.Url(), "open");
        var key = await CreateKeyAsync(one, two, new PlanInput { Id = "fifty", Name = "Fifty", RequestsPerMonth = 50 });

        var responses = await SendSplitAsync(one, two, key, 200);

        Assert.Equal(50, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.Equal(150, responses.Count(r => r.StatusCode == HttpStatusCode.PaymentRequired));
        Assert.Equal(50, _upstream.Received.Count);
        Assert.Equal(50, responses.Where(r => r.StatusCode == HttpStatusCode.OK).Select(r => r.Headers.GetValues("X-Quota-Used").Single()).Distinct().Count());
        await AuthenticationTests.AssertErrorAsync(responses.First(r => r.StatusCode == HttpStatusCode.PaymentRequired), HttpStatusCode.PaymentRequired, "quota_exceeded");
    }

    [RedisTheory]
    [InlineData("open", HttpStatusCode.OK, 2, false)]
    [InlineData("closed", HttpStatusCode.ServiceUnavailable, 1, false)]
    [InlineData("open", HttpStatusCode.OK, 2, true)]
    [InlineData("closed", HttpStatusCode.ServiceUnavailable, 1, true)]
    public async Task RedisNotRunningAtStart_GatewayStartsWithTheFallbackThenAdmitsInRedisOnceItRuns(string mode, HttpStatusCode before, long counter, bool silentListener)
    {
        // Arrange: nothing listens on Redis's port when the gateway starts, or something that is not Redis holds it and
        // never answers (a container runtime's port proxy published before Redis listens). With the listener the timeout
        // is at its longest (60 s), making the connect bound 60 s, twice Poll's 30 s: a start that waited for it fails.
        var redis = RedisServer.NotStarted();
        _ownServers.Add(redis);
        await using var silent = silentListener ? new SilentListener(redis.Port) : null;
        var log = new CapturedLog();
        var gateway = silentListener
            ? await StartLoggedAsync(redis.Url(), mode, log, TimeSpan.FromSeconds(60))
            : await StartLoggedAsync(redis.Url(), mode, log);
        var (key, userId) = await CreateKeyWithUserAsync(gateway, gateway, new PlanInput { Id = "thousand", Name = "Thousand", RequestsPerMonth = 1000 });
        var admission = gateway.Service<RedisAdmission>();

        // Act: one request while Redis is not running (a unit admitted locally is written to the store), then the
        // listener, if any, stops taking connections (those it took stay open, silent) and Redis starts on that port
        var during = await SendAsync(gateway, key);
        if (during.StatusCode == HttpStatusCode.OK)
        {
            await WaitForStoredUnitsAsync(gateway, userId, 1);
        }

        var readyDuring = await ReadyAsync(gateway);
        var availableDuring = admission.Available;
        if (silent is not null)
        {
            await silent.StopListeningAsync();
        }

        await redis.RestartAsync();
        await Poll.UntilAsync(() => admission.Available, () => $"Redis never taken into use; log: {log.Text}");
        var after = await SendAsync(gateway, key);
        var text = await log.UpToMarkerAsync(gateway);

        // Assert: started at once with the mode's fallback, saying why; then the request counted in Redis (seeded from
        // the store, which holds the unit the fallback admitted in open mode); the password never in the log, nor sent
        // to the listener
        Assert.False(availableDuring);
        Assert.Equal(before, during.StatusCode);
        if (before == HttpStatusCode.ServiceUnavailable)
        {
            await AuthenticationTests.AssertErrorAsync(during, HttpStatusCode.ServiceUnavailable, "limits_unavailable");
        }

        Assert.Equal("degraded", readyDuring.GetProperty("status").GetString());
        Assert.Equal(mode == "open" ? "fallback" : "unavailable", readyDuring.GetProperty("checks").GetProperty("limits").GetString());
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal($"$1\r\n{counter}", await redis.CommandAsync("GET", QuotaKey(userId)));
        Assert.Equal(1, Count(text, 4202));
        Assert.Equal(1, Count(text, 4203));
        var why = silent is null
            ? "the connection was refused (nothing listens on that port; is Redis running there?)"
            : "something took the connection but gave no reply to a PING within 2000 ms";
        Assert.Contains(
            $"Redis at 127.0.0.1:{redis.Port} is unavailable at start; {(mode == "open" ? "serving with per-instance limits (open)" : "answering 503 limits_unavailable (closed)")} until it answers: redis.url (APIGATE_REDIS_URL): cannot reach Redis at 127.0.0.1:{redis.Port}: {why}",
            text, StringComparison.Ordinal);
        Assert.DoesNotContain(Password(redis), text, StringComparison.Ordinal);
        if (silent is not null)
        {
            Assert.True(silent.Received("PING"));
            Assert.False(silent.Received(Password(redis)), "the listener was sent the password");
        }
    }

    [RedisTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RedisStartsAfterTheGateway_ClosedMode_RequestsAdmittedOnceItAnswersNotAfterTheConnectBound(bool silentListenerFirst)
    {
        // Arrange: nothing listens on Redis's port when the gateway starts; the timeout at its longest (60 s) makes the
        // first connection's bound 60 s, twice Poll's 30 s: a gateway that waited for that bound fails here. Then, in
        // the second case, something that is not Redis accepts connections there and never answers (a container
        // runtime's port proxy with nothing behind it yet), and the gateway connects to it.
        var redis = RedisServer.NotStarted();
        _ownServers.Add(redis);
        var log = new CapturedLog();
        var gateway = await StartLoggedAsync(redis.Url(), "closed", log, TimeSpan.FromSeconds(60));
        var (key, userId) = await CreateKeyWithUserAsync(gateway, gateway, new PlanInput { Id = "thousand", Name = "Thousand", RequestsPerMonth = 1000 });
        await using var silent = silentListenerFirst ? new SilentListener(redis.Port) : null;
        if (silent is not null)
        {
            await Poll.UntilAsync(() => silent.Accepted >= 2, () => $"the gateway never connected to the listener; log: {log.Text}");
        }

        var during = await SendAsync(gateway, key);

        // Act: the listener (if any) stops taking connections (those it took stay open, silent), and Redis starts
        if (silent is not null)
        {
            await silent.StopListeningAsync();
        }

        await redis.RestartAsync();
        HttpResponseMessage? after = null;
        await Poll.UntilAsync(
            async () => (after = await SendAsync(gateway, key)).StatusCode != HttpStatusCode.ServiceUnavailable,
            () => $"still 503 after Redis started; log: {log.Text}");
        var text = await log.UpToMarkerAsync(gateway);

        // Assert: 503 limits_unavailable while Redis was not running, then the request admitted and counted in Redis
        await AuthenticationTests.AssertErrorAsync(during, HttpStatusCode.ServiceUnavailable, "limits_unavailable");
        Assert.Equal(HttpStatusCode.OK, after!.StatusCode);
        Assert.Equal("$1\r\n1", await redis.CommandAsync("GET", QuotaKey(userId)));
        Assert.Equal(1, Count(text, 4202));
        Assert.Equal(1, Count(text, 4203));
    }

    [RedisTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RedisKilledWhileServing_ClosedMode_RequestsAdmittedOnceItIsBackNotAfterTheConnectBound(bool silentListenerMeanwhile)
    {
        // Arrange: the timeout at its longest (60 s) makes the client's connect bound 60 s, twice Poll's 30 s: a gateway
        // that took Redis back only once a connect attempt had run out (or reconnected on a schedule scaled by the
        // timeout) fails here. One unit used and recorded in the store, which seeds the counter of a Redis back empty.
        var redis = await OwnServerAsync();
        var log = new CapturedLog();
        var gateway = await StartLoggedAsync(redis.Url(), "closed", log, TimeSpan.FromSeconds(60));
        var (key, userId) = await CreateKeyWithUserAsync(gateway, gateway, new PlanInput { Id = "thousand", Name = "Thousand", RequestsPerMonth = 1000 });
        var admission = gateway.Service<RedisAdmission>();
        var before = await SendAsync(gateway, key);
        await WaitForStoredUnitsAsync(gateway, userId, 1);

        // Act: Redis dies while serving, a request is refused, then Redis comes back (empty). In the second case,
        // meanwhile, something that is not Redis takes its port and the client's reconnect sits down on it (it sent its
        // handshake there, naming itself "apigate"), and that listener stops taking connections before Redis is back.
        await redis.StopAsync();
        await Poll.UntilAsync(() => !admission.Available, () => $"Redis still counted as available; log: {log.Text}");
        await using var silent = silentListenerMeanwhile ? new SilentListener(redis.Port) : null;
        if (silent is not null)
        {
            await Poll.UntilAsync(() => silent.Received("apigate"), () => $"the client never reconnected to the listener; log: {log.Text}");
        }

        var during = await SendAsync(gateway, key);
        if (silent is not null)
        {
            await silent.StopListeningAsync();
        }

        await redis.RestartAsync();
        HttpResponseMessage? after = null;
        await Poll.UntilAsync(
            async () => (after = await SendAsync(gateway, key)).StatusCode != HttpStatusCode.ServiceUnavailable,
            () => $"still 503 after Redis came back; log: {log.Text}");
        var text = await log.UpToMarkerAsync(gateway);

        // Assert: 503 limits_unavailable while Redis was gone, then the request admitted and counted in Redis on top of
        // the stored unit; one outage logged, one recovery
        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        await AuthenticationTests.AssertErrorAsync(during, HttpStatusCode.ServiceUnavailable, "limits_unavailable");
        Assert.Equal(HttpStatusCode.OK, after!.StatusCode);
        Assert.Equal("$1\r\n2", await redis.CommandAsync("GET", QuotaKey(userId)));
        Assert.Equal(1, Count(text, 4202));
        Assert.Equal(1, Count(text, 4203));
    }

    [RedisFact]
    public async Task PasswordCheck_SilentListenerOnRedisPort_SendsOnlyAPingNeverThePassword()
    {
        // Arrange: a gateway whose URL carries a password, started while something that is not Redis holds the port
        var redis = RedisServer.NotStarted();
        _ownServers.Add(redis);
        await using var silent = new SilentListener(redis.Port);
        var log = new CapturedLog();
        var gateway = await StartLoggedAsync(redis.Url(), "closed", log);
        var admission = gateway.Service<RedisAdmission>();
        await Poll.UntilAsync(() => silent.Accepted >= 4, () => $"the probe never connected to the listener; log: {log.Text}");

        // Act: the check of whether Redis refuses the URL's credentials asks the listener
        var refused = await admission.CredentialsRefusedAsync(CancellationToken.None);

        // Assert: nothing said to be refused, and the listener got PINGs, never an AUTH or the password
        Assert.Null(refused);
        Assert.True(silent.Received("PING"));
        Assert.False(silent.Received("AUTH"), "the listener was sent an AUTH");
        Assert.False(silent.Received(Password(redis)), "the listener was sent the password");
        Assert.False(admission.Available);
    }

    [RedisFact]
    public async Task RedisStalledSinceStart_OpenMode_UnitsAdmittedMeanwhileAddedToItsCounterWhenItFirstAnswers()
    {
        // Arrange: an earlier instance counted 7 units in Redis (and the store) and stopped; Redis then stalls (it takes
        // connections, answers nothing), and a gateway starts: Redis has never answered it
        var redis = await OwnServerAsync();
        var earlierLog = new CapturedLog();
        var earlier = await StartLoggedAsync(redis.Url(), "open", earlierLog);
        var (key, userId) = await CreateKeyWithUserAsync(earlier, earlier, new PlanInput { Id = "thousand", Name = "Thousand", RequestsPerMonth = 1000 });
        for (var i = 0; i < 7; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(earlier, key)).StatusCode);
        }

        await WaitForStoredUnitsAsync(earlier, userId, 7);
        await earlier.StopAsync();
        await redis.PauseAsync();
        var log = new CapturedLog();
        var gateway = await StartLoggedAsync(redis.Url(), "open", log);
        var admission = gateway.Service<RedisAdmission>();
        var availableAtStart = admission.Available;

        // Act: 5 requests admitted by the instance alone, then Redis answers for the first time since the start
        var during = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            during.Add((await SendAsync(gateway, key)).StatusCode);
        }

        await redis.ResumeAsync();
        await Poll.UntilAsync(() => admission.Available, () => $"Redis never taken into use; log: {log.Text}");
        var counterAtRecovery = await redis.CommandAsync("GET", QuotaKey(userId));
        var after = await SendAsync(gateway, key);
        var text = await log.UpToMarkerAsync(gateway);

        // Assert: the 5 local units were added to Redis's counter when it first answered (7 + 5), and the next
        // admission counts on top of them, as the store does
        Assert.False(availableAtStart);
        Assert.All(during, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal("$2\r\n12", counterAtRecovery);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal("13", after.Headers.GetValues("X-Quota-Used").Single());
        Assert.Equal("$2\r\n13", await redis.CommandAsync("GET", QuotaKey(userId)));
        Assert.Contains($"Redis at 127.0.0.1:{redis.Port} answers again; shared limits resumed, 5 locally counted quota units added", text, StringComparison.Ordinal);
        Assert.Equal(1, Count(text, 4202));
        Assert.Equal(1, Count(text, 4203));
        await WaitForStoredUnitsAsync(gateway, userId, 13);
    }

    [RedisFact]
    public async Task RedisBackAfterASilentListenerThreeTimes_ClosedMode_EachReplacedClientClosedNoConnectionLeftOnRedis()
    {
        // Arrange: serving through Redis; how many connections the gateway's client holds there
        var redis = await OwnServerAsync();
        var log = new CapturedLog();
        var gateway = await StartLoggedAsync(redis.Url(), "closed", log, TimeSpan.FromSeconds(60));
        var admission = gateway.Service<RedisAdmission>();
        var held = await GatewayConnectionsAsync(redis);

        // Act: three times Redis dies, a silent listener takes its port and the client's reconnect sits down on it,
        // Redis comes back and is taken into use; then the listener's connections close, so a client left open would
        // reconnect to Redis (its retry every 500 ms: 2 s for it to show)
        for (var round = 0; round < 3; round++)
        {
            await redis.StopAsync();
            await Poll.UntilAsync(() => !admission.Available, () => $"Redis still counted as available; log: {log.Text}");
            await using (var silent = new SilentListener(redis.Port))
            {
                await Poll.UntilAsync(() => silent.Received("apigate"), () => $"the client never reconnected to the listener; log: {log.Text}");
                await silent.StopListeningAsync();
                await redis.RestartAsync();
                await Poll.UntilAsync(() => admission.Available, () => $"Redis never taken back; log: {log.Text}");
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(2));
        var after = await GatewayConnectionsAsync(redis);

        // Assert: a fresh client each time (event 4214), and as many connections on Redis as before
        Assert.Equal(3, Count(await log.UpToMarkerAsync(gateway), 4214));
        Assert.Equal(held, after);
    }

    [RedisTheory]
    [InlineData("open", HttpStatusCode.OK)]
    [InlineData("closed", HttpStatusCode.ServiceUnavailable)]
    public async Task RedisStartsLaterAndRefusesThePassword_LogsTheRefusalOnceKeepsTheFallbackAndRecoversWhenThePasswordIsFixed(string mode, HttpStatusCode before)
    {
        // Arrange: nothing listens on Redis's port at start, and the URL's password is not the one Redis will require
        var redis = RedisServer.NotStarted();
        _ownServers.Add(redis);
        var wrong = Guid.NewGuid().ToString("N");
        var log = new CapturedLog();
        var gateway = await StartLoggedAsync($"redis://:{wrong}@127.0.0.1:{redis.Port}/0", mode, log);
        var key = await CreateKeyAsync(gateway, gateway, new PlanInput { Id = "thousand", Name = "Thousand", RequestsPerMonth = 1000 });
        var admission = gateway.Service<RedisAdmission>();

        // Act: Redis starts and refuses the password
        await redis.RestartAsync();
        await Poll.UntilAsync(() => Count(log.Text, 4213) == 1, () => log.Text);
        var during = await SendAsync(gateway, key);
        var availableDuring = admission.Available;
        var refusedText = log.Text;
        await redis.CommandAsync("CONFIG", "SET", "requirepass", wrong); // the password fixed on Redis's side
        await Poll.UntilAsync(() => admission.Available, () => log.Text);
        var after = await SendAsync(gateway, key);
        var text = await log.UpToMarkerAsync(gateway);

        // Assert: one line naming the setting and the host (never the password) and what Redis said; the mode's
        // fallback meanwhile; Redis taken back without a restart
        Assert.False(availableDuring);
        Assert.Equal(before, during.StatusCode);
        if (before == HttpStatusCode.ServiceUnavailable)
        {
            await AuthenticationTests.AssertErrorAsync(during, HttpStatusCode.ServiceUnavailable, "limits_unavailable");
        }

        Assert.Equal(1, Count(refusedText, 4213));
        Assert.Equal(1, Count(text, 4213));
        Assert.Contains($"Redis at 127.0.0.1:{redis.Port} answers but refuses the gateway (check the user and password in APIGATE_REDIS_URL", text, StringComparison.Ordinal);
        Assert.Matches("WRONGPASS|NOAUTH|AuthenticationFailure", text);
        Assert.DoesNotContain(wrong, text, StringComparison.Ordinal);
        Assert.Equal(1, Count(text, 4203));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [RedisFact]
    public async Task RedisHangsUnderTraffic_OpenMode_ServesCountsLocallyThenAddsTheUnitsWhenBack()
    {
        // Arrange
        var redis = await OwnServerAsync();
        var (one, two) = await StartPairAsync(redis.Url(), "open");
        var (key, userId) = await CreateKeyWithUserAsync(one, two, new PlanInput { Id = "thousand", Name = "Thousand", RequestsPerMonth = 1000 });
        Assert.All(await SendSplitAsync(one, two, key, 6), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        // Act: Redis stops answering (connections stay open) while 20 requests arrive at both instances.
        await redis.PauseAsync();
        HttpResponseMessage[] during;
        JsonElement ready;
        try
        {
            during = await SendSplitAsync(one, two, key, 20);
            ready = await ReadyAsync(one);
        }
        finally
        {
            await redis.ResumeAsync();
        }

        await WaitUntilAvailableAsync(one, two);
        await WaitForCounterAsync(redis, userId, 26);
        var counted = Counter(await redis.CommandAsync("GET", QuotaKey(userId)));
        var after = await SendAsync(one, key);

        // Assert: all served, none hung; degraded readiness; the 20 local units are in the shared counter.
        Assert.All(during, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal("degraded", ready.GetProperty("status").GetString());
        Assert.Equal(["limits"], ready.GetProperty("degraded").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("fallback", ready.GetProperty("checks").GetProperty("limits").GetString());
        Assert.Equal(1, one.Service<RedisAdmission>().Outages);
        Assert.Equal(26, counted);
        Assert.Equal("27", after.Headers.GetValues("X-Quota-Used").Single());
        Assert.Equal("ready", (await ReadyAsync(one)).GetProperty("status").GetString());
        var metrics = await Observability.PrometheusText.ScrapeAsync(one.Client, one.Url + "/metrics");
        Assert.Equal(1, metrics.Sum("apigate_limits_redis_available"));
        Assert.Equal(1, metrics.Sum("apigate_limits_redis_outages_total"));
        Assert.True(metrics.Sum("apigate_limits_fallback_admissions_total") >= 1);
    }

    [RedisFact]
    public async Task RedisHangsUnderTraffic_ClosedMode_RefusedRequestsCostNoQuotaOnceItIsBack()
    {
        // Arrange
        var redis = await OwnServerAsync();
        var (one, two) = await StartPairAsync(redis.Url(), "closed");
        var (key, userId) = await CreateKeyWithUserAsync(one, two, new PlanInput { Id = "thousand", Name = "Thousand", RequestsPerMonth = 1000 });
        Assert.All(await SendSplitAsync(one, two, key, 6), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));

        // Act: Redis stops answering while 10 requests arrive; their scripts were sent and run once it resumes.
        await redis.PauseAsync();
        HttpResponseMessage[] during;
        try
        {
            during = await SendSplitAsync(one, two, key, 10);
        }
        finally
        {
            await redis.ResumeAsync();
        }

        await WaitUntilAvailableAsync(one, two);
        for (var i = 0; i < 200 && (one.Service<RedisAdmission>().PendingUnits(userId) != 0 || two.Service<RedisAdmission>().PendingUnits(userId) != 0); i++)
        {
            await Task.Delay(50); // bounded: 10 s for the given-back units to reach Redis
        }

        await WaitForCounterAsync(redis, userId, 6);
        var counted = Counter(await redis.CommandAsync("GET", QuotaKey(userId)));
        var after = await SendAsync(one, key);

        // Assert: refused (503) and not charged: the units their scripts took were given back.
        Assert.All(during, r => Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode));
        Assert.Equal(6, counted);
        Assert.Equal("7", after.Headers.GetValues("X-Quota-Used").Single());
        Assert.Equal(7, _upstream.Received.Count);
    }

    [RedisFact]
    public async Task OneUsersCounterKeyBroken_NotAnOutage_OthersStayExactInRedis()
    {
        // Arrange: something else wrote a list where one user's quota counter lives.
        var redis = await OwnServerAsync();
        var (one, two) = await StartPairAsync(redis.Url(), "closed");
        var (broken, brokenUser) = await CreateKeyWithUserAsync(one, two, new PlanInput { Id = "ten", Name = "Ten", RequestsPerMonth = 10 });
        var (fine, fineUser) = await CreateKeyWithUserAsync(one, two, new PlanInput { Id = "other", Name = "Other", RequestsPerMonth = 10 }, "fine@example.com");
        await redis.CommandAsync("RPUSH", QuotaKey(brokenUser), "not-a-counter");

        // Act
        var forBroken = await SendSplitAsync(one, two, broken, 4);
        var forFine = await SendSplitAsync(one, two, fine, 4);

        // Assert: the broken user's requests are decided locally (even in closed mode: Redis is up), nobody else's,
        // and Redis is not taken for down.
        Assert.All(forBroken, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.All(forFine, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(0, one.Service<RedisAdmission>().Outages + two.Service<RedisAdmission>().Outages);
        Assert.Equal(4, Counter(await redis.CommandAsync("GET", QuotaKey(fineUser))));
        Assert.Equal("ready", (await ReadyAsync(one)).GetProperty("status").GetString());
    }

    [RedisFact]
    public async Task OneUsersCounterKeyBroken_UnitsRedisWouldNotAdd_StillCountLocallySoTheQuotaHolds()
    {
        // Arrange: a 3-unit quota whose counter key holds a list, and 3 requests decided locally because of it.
        var redis = await OwnServerAsync();
        var (one, two) = await StartPairAsync(redis.Url(), "closed");
        var (key, userId) = await CreateKeyWithUserAsync(one, two, new PlanInput { Id = "three", Name = "Three", RequestsPerMonth = 3 });
        await redis.CommandAsync("RPUSH", QuotaKey(userId), "not-a-counter");
        var admission = one.Service<RedisAdmission>();
        var first = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            first.Add(await SendAsync(one, key));
        }

        for (var i = 0; i < 200 && admission.PendingUnits(userId) != 0; i++)
        {
            await Task.Delay(25); // bounded: 5 s for the probe to try adding the local units, which Redis refuses
        }

        var pendingBefore = admission.PendingUnits(userId);

        // Act
        var after = await SendAsync(one, key);

        // Assert: Redis refused to add the 3 units, but they still count here: the 4th request is over the quota.
        Assert.All(first, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(0, pendingBefore);
        await AuthenticationTests.AssertErrorAsync(after, HttpStatusCode.PaymentRequired, "quota_exceeded");
        Assert.Equal(3, _upstream.Received.Count);
    }

    [RedisFact]
    public async Task DataSetKeyOfAnotherType_ClosedMode_NotAnOutage_ReplacedAndRequestsStayInRedis()
    {
        // Arrange: something else wrote a hash where the name of the data set lives
        var redis = await OwnServerAsync();
        var (one, two) = await StartPairAsync(redis.Url(), "closed");
        var (key, userId) = await CreateKeyWithUserAsync(one, two, new PlanInput { Id = "ten", Name = "Ten", RequestsPerMonth = 10 });
        await redis.CommandAsync("DEL", _prefix + "data-set");
        await redis.CommandAsync("HSET", _prefix + "data-set", "not", "a-name");
        var outages = () => one.Service<RedisAdmission>().Outages + two.Service<RedisAdmission>().Outages;
        for (var i = 0; i < 400 && outages() == 0 && await redis.CommandAsync("TYPE", _prefix + "data-set") != "+string"; i++)
        {
            await Task.Delay(25); // bounded: 10 s for a probe to read the key (every 250 ms)
        }

        // Act
        var responses = await SendSplitAsync(one, two, key, 4);

        // Assert: not taken for Redis being down (closed mode would refuse every request): the key is written anew
        Assert.Equal(0, outages());
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(4, Counter(await redis.CommandAsync("GET", QuotaKey(userId))));
        Assert.Equal("+string", await redis.CommandAsync("TYPE", _prefix + "data-set"));
    }

    [RedisFact]
    public async Task RedisKilledAndRestartedEmpty_ClosedMode_Answers503ThenResumesExactLimitsFromTheStore()
    {
        // Arrange: a 6-unit quota, 3 used and recorded in the store.
        var redis = await OwnServerAsync();
        var (one, two) = await StartPairAsync(redis.Url(), "closed");
        var (key, userId) = await CreateKeyWithUserAsync(one, two, new PlanInput { Id = "six", Name = "Six", RequestsPerMonth = 6 });
        Assert.All(await SendSplitAsync(one, two, key, 3), r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        await WaitForStoredUnitsAsync(one, userId, 3);

        // Act: Redis dies (its data with it), requests arrive, then it comes back empty.
        await redis.StopAsync();
        var during = await SendSplitAsync(one, two, key, 4);
        var ready = await ReadyAsync(two);
        var metrics = await Observability.PrometheusText.ScrapeAsync(one.Client, one.Url + "/metrics");
        await redis.RestartAsync();
        await WaitUntilAvailableAsync(one, two);
        var after = new List<HttpResponseMessage>();
        for (var i = 0; i < 5; i++)
        {
            after.Add(await SendAsync(i % 2 == 0 ? one : two, key));
        }

        // Assert: 503 limits_unavailable while down (never forwarded); then the counter is seeded from the store (3), so
        // exactly 3 more are admitted.
        Assert.All(during, r => Assert.Equal(HttpStatusCode.ServiceUnavailable, r.StatusCode));
        await AuthenticationTests.AssertErrorAsync(during[0], HttpStatusCode.ServiceUnavailable, "limits_unavailable");
        Assert.Equal("degraded", ready.GetProperty("status").GetString());
        Assert.Equal(["limits"], ready.GetProperty("degraded").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("unavailable", ready.GetProperty("checks").GetProperty("limits").GetString());
        Assert.Equal(0, metrics.Sum("apigate_limits_redis_available"));
        Assert.Equal(
            [HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.PaymentRequired, HttpStatusCode.PaymentRequired],
            after.Select(r => r.StatusCode));
        Assert.Equal(6, _upstream.Received.Count);
        Assert.Equal(6, Counter(await redis.CommandAsync("GET", QuotaKey(userId))));
    }

    [RedisFact]
    public async Task RedisKilledUnderTraffic_OpenMode_ServesThenReseedsEveryUnitFromTheStore()
    {
        var redis = await OwnServerAsync();
        var (one, two) = await StartPairAsync(redis.Url(), "open");
        var (key, userId) = await CreateKeyWithUserAsync(one, two, new PlanInput { Id = "hundred", Name = "Hundred", RequestsPerMonth = 100, RateLimitPerMinute = 600 });

        // Traffic in flight while Redis dies.
        var first = SendSplitAsync(one, two, key, 40);
        await redis.StopAsync();
        var second = await SendSplitAsync(one, two, key, 40);
        var responses = (await first).Concat(second).ToList();
        await redis.RestartAsync();
        await WaitUntilAvailableAsync(one, two);
        await WaitForStoredUnitsAsync(one, userId, 80); // both instances' usage events, with their units
        await Task.Delay(QuotaSeeds.MaxAge);             // no seed answered from a load older than the last events
        var after = await SendAsync(two, key);

        // Assert: served throughout; Redis came back empty, so the counter was seeded from the store, which holds all
        // 80 units (those counted in Redis before it died and those counted locally during the outage): none lost.
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal("81", after.Headers.GetValues("X-Quota-Used").Single());
        Assert.Equal(81, _upstream.Received.Count);
        Assert.True(one.Service<RedisAdmission>().FallbackAdmissions + two.Service<RedisAdmission>().FallbackAdmissions >= 40);
        Assert.Equal("ready", (await ReadyAsync(one)).GetProperty("status").GetString());
    }

    [RedisFact]
    public async Task RedisStopped_OpenMode_AnInstanceThatNeverServedTheUserCountsWhatTheOtherAdmitted()
    {
        // Arrange: 15 of a 20-request month used through instance two, written to the store both share
        var redis = await OwnServerAsync();
        var (one, two) = await StartPairAsync(redis.Url(), "open");
        var (key, userId) = await CreateKeyWithUserAsync(one, two, new PlanInput { Id = "twenty", Name = "Twenty", RequestsPerMonth = 20 });
        for (var i = 0; i < 15; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(two, key)).StatusCode);
        }

        await WaitForStoredUnitsAsync(one, userId, 15);
        var admission = one.Service<RedisAdmission>();
        await redis.StopAsync();
        for (var i = 0; i < 400 && (admission.Available || admission.StoredUnits(userId) != 15); i++) // bounded: 20 s
        {
            await Task.Delay(50);
        }

        // Act: ten requests through instance one, in its fallback
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            statuses.Add((await SendAsync(one, key)).StatusCode);
        }

        // Assert: the 5 left of the month, then the quota's refusal — not a fresh 20 from an instance that had not served the user
        Assert.False(admission.Available);
        Assert.Equal(Enumerable.Repeat(HttpStatusCode.OK, 5).Concat(Enumerable.Repeat(HttpStatusCode.PaymentRequired, 5)), statuses);
        Assert.Equal(20, _upstream.Received.Count);
    }

    [RedisFact]
    public async Task RedisHangs_OpenMode_AnInstanceStoppedBeforeItAnswersAgain_ItsLocalUnitsStillReachRedis()
    {
        // Arrange: 3 of a 100-unit month counted in Redis; then Redis hangs and instance one serves 6 on its own
        var redis = await OwnServerAsync();
        var (one, two) = await StartPairAsync(redis.Url(), "open");
        var (key, userId) = await CreateKeyWithUserAsync(one, two, new PlanInput { Id = "hundred", Name = "Hundred", RequestsPerMonth = 100 });
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(one, key)).StatusCode);
        }

        await WaitForCounterAsync(redis, userId, 3);
        await redis.PauseAsync();
        var admission = one.Service<RedisAdmission>();
        for (var i = 0; i < 400 && admission.Available; i++) // bounded: 20 s; the probe notices within a timeout or two
        {
            await Task.Delay(50);
        }

        var served = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            served.Add((await SendAsync(one, key)).StatusCode);
        }

        // Act: instance one is stopped (a deploy, a restart to "fix" things) before Redis answers again; then it resumes
        await one.StopAsync();
        await redis.ResumeAsync();
        await WaitUntilAvailableAsync(two);
        await WaitForCounterAsync(redis, userId, 9);

        // Assert: Redis counts every unit served, as the store does — not 3, which it kept for the rest of the month, so
        // every instance admitted the 6 again
        Assert.False(admission.Available);
        Assert.All(served, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(9, Counter(await redis.CommandAsync("GET", QuotaKey(userId))));
        await WaitForStoredUnitsAsync(two, userId, 9);
        Assert.Equal("10", (await SendAsync(two, key)).Headers.GetValues("X-Quota-Used").Single());
    }

    private async Task<RedisServer> OwnServerAsync()
    {
        var server = await RedisServer.StartAsync();
        _ownServers.Add(server);
        return server;
    }

    /// <summary>The password in <paramref name="redis"/>'s URL.</summary>
    private static string Password(RedisServer redis) => redis.Url()["redis://:".Length..redis.Url().IndexOf('@', StringComparison.Ordinal)];

    private string QuotaKey(string userId) =>
        $"{_prefix}{{{userId}}}:q:{QuotaPeriod.StartOf(DateTimeOffset.UtcNow):yyyy-MM}";

    private async Task<(TestGateway One, TestGateway Two)> StartPairAsync(string url, string mode, TimeProvider? clock = null)
    {
        void Configure(GatewayOptions o)
        {
            o.RedisUrl = url;
            o.RedisPrefix = _prefix;
            o.LimitsOnRedisFailure = mode;
            o.RedisTimeout = TimeSpan.FromMilliseconds(300);
        }

        var one = await TestGateway.StartAsync(Configure, _directory, clock);
        _gateways.Add(one);
        var two = await TestGateway.StartAsync(Configure, _directory, clock);
        _gateways.Add(two);
        return (one, two);
    }

    private async Task<string> CreateKeyAsync(TestGateway one, TestGateway two, PlanInput plan) => (await CreateKeyWithUserAsync(one, two, plan)).Key;

    private async Task<(string Key, string UserId)> CreateKeyWithUserAsync(TestGateway one, TestGateway two, PlanInput plan, string email = "shared@example.com")
    {
        if (await one.Store.FindUpstreamAsync("backend", CancellationToken.None) is null)
        {
            await one.AddUpstreamAsync("backend", _upstream.Url);
            await one.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true }, reload: false);
        }

        var (key, user, _) = await one.CreateKeyAsync(email, plan);
        await two.ReloadAsync();
        return (key, user.Id);
    }

    private static async Task<HttpResponseMessage[]> SendSplitAsync(TestGateway one, TestGateway two, string key, int count)
    {
        using var start = new ManualResetEventSlim();
        var tasks = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            start.Wait();
            return await SendAsync(i % 2 == 0 ? one : two, key);
        })).ToList();
        start.Set();
        return await Task.WhenAll(tasks);
    }

    private static async Task<HttpResponseMessage> SendAsync(TestGateway gateway, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/api/x");
        request.Headers.Add("X-API-Key", key);
        // Bounded: a request that hangs fails the test instead of holding it.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var response = await gateway.Client.SendAsync(request, timeout.Token);
        await response.Content.LoadIntoBufferAsync(timeout.Token);
        return response;
    }

    private static int Count(string log, int eventId) => System.Text.RegularExpressions.Regex.Count(log, $"\"EventId\":{eventId}\\b");

    private static async Task<JsonElement> ReadyAsync(TestGateway gateway)
    {
        var response = await gateway.Client.GetAsync(gateway.Url + "/health/ready");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode); // degraded still serves
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    private static async Task WaitUntilAvailableAsync(params TestGateway[] gateways)
    {
        for (var i = 0; i < 400 && !gateways.All(g => g.Service<RedisAdmission>().Available); i++) // bounded: 20 s
        {
            await Task.Delay(50);
        }

        Assert.All(gateways, g => Assert.True(g.Service<RedisAdmission>().Available, "Redis never became available again"));
    }

    private async Task WaitForCounterAsync(RedisServer redis, string userId, long expected)
    {
        for (var i = 0; i < 200; i++) // bounded: 10 s
        {
            var reply = await redis.CommandAsync("GET", QuotaKey(userId));
            if (reply.StartsWith('$') && !reply.StartsWith("$-1", StringComparison.Ordinal) && Counter(reply) == expected)
            {
                return;
            }

            await Task.Delay(50);
        }
    }

    private static async Task WaitForStoredUnitsAsync(TestGateway gateway, string userId, long units)
    {
        long stored = 0;
        for (var i = 0; i < 400 && stored < units; i++) // bounded: 10 s
        {
            var usage = await gateway.Store.LoadQuotaUsageAsync(QuotaPeriod.StartOf(DateTimeOffset.UtcNow), CancellationToken.None);
            stored = usage.Where(u => u.UserId == userId).Sum(u => u.Used);
            if (stored < units)
            {
                await Task.Delay(25);
            }
        }

        Assert.Equal(units, stored);
    }

    private static long Counter(string reply) =>
        long.Parse(reply.StartsWith('$') ? reply.Split("\r\n")[1] : reply.TrimStart(':'), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>How many of Redis's client connections the gateway's client holds (it names them "apigate").</summary>
    private static async Task<int> GatewayConnectionsAsync(RedisServer redis) =>
        (await redis.CommandAsync("CLIENT", "LIST")).Split('\n').Count(line => line.Contains(" name=apigate ", StringComparison.Ordinal));

    /// <summary>
    /// Something that is not Redis on Redis's port: accepts connections and never answers, keeping each one open and
    /// what was sent on it (a container runtime's port proxy with nothing behind it yet, a hung service) until disposed.
    /// </summary>
    private sealed class SilentListener : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly List<(Socket Socket, System.Text.StringBuilder Received)> _held = [];
        private readonly Task _accepting;

        public SilentListener(int port)
        {
            _listener = new TcpListener(IPAddress.Loopback, port);
            _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _listener.Start();
            _accepting = AcceptAsync();
        }

        /// <summary>Connections accepted so far.</summary>
        public int Accepted
        {
            get
            {
                lock (_held)
                {
                    return _held.Count;
                }
            }
        }

        /// <summary>Whether <paramref name="text"/> was sent on one of the connections.</summary>
        public bool Received(string text)
        {
            lock (_held)
            {
                return _held.Exists(c => c.Received.ToString().Contains(text, StringComparison.Ordinal));
            }
        }

        /// <summary>Frees the port; the connections taken stay open, silent.</summary>
        public async Task StopListeningAsync()
        {
            _listener.Stop();
            await _accepting;
        }

        public async ValueTask DisposeAsync()
        {
            await StopListeningAsync();
            lock (_held)
            {
                _held.ForEach(c => c.Socket.Dispose());
            }
        }

        private async Task AcceptAsync()
        {
            try
            {
                while (true)
                {
                    var socket = await _listener.AcceptSocketAsync();
                    var received = new System.Text.StringBuilder();
                    lock (_held)
                    {
                        _held.Add((socket, received));
                    }

                    _ = ReadAsync(socket, received);
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                // stopped (InvalidOperationException: stopped between one accept and the next)
            }
        }

        private async Task ReadAsync(Socket socket, System.Text.StringBuilder received)
        {
            var buffer = new byte[1024];
            try
            {
                int read;
                while ((read = await socket.ReceiveAsync(buffer)) > 0)
                {
                    lock (_held)
                    {
                        received.Append(System.Text.Encoding.UTF8.GetString(buffer, 0, read));
                    }
                }
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // closed
            }
        }
    }

    /// <summary>
    /// A gateway on <paramref name="redisUrl"/> in <paramref name="mode"/>, its warnings and errors in <paramref name="log"/>;
    /// Redis's timeout 300 ms unless <paramref name="timeout"/> is given.
    /// </summary>
    private async Task<TestGateway> StartLoggedAsync(string redisUrl, string mode, CapturedLog log, TimeSpan? timeout = null)
    {
        var gateway = await TestGateway.StartAsync(o =>
        {
            o.RedisUrl = redisUrl;
            o.RedisPrefix = _prefix;
            o.LimitsOnRedisFailure = mode;
            o.RedisTimeout = timeout ?? TimeSpan.FromMilliseconds(300);
            log.TakeJsonFrom(o, "warn");
        }, _directory);
        _gateways.Add(gateway);
        return gateway;
    }
}
