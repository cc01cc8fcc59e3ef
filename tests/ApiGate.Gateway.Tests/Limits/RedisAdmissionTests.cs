using System.Globalization;
using ApiGate.Core.Identity;
using ApiGate.Core.Quotas;
using ApiGate.Core.RateLimiting;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Identity;
using ApiGate.Gateway.Limits;
using ApiGate.Gateway.Snapshots;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Limits;

/// <summary>
/// The admission script against a real redis-server, with a fake clock: refill, capacity, quota at the limit, overage,
/// settlement, expiry, seeding from the store. Each test uses its own key prefix on the run's shared server.
/// </summary>
public sealed class RedisAdmissionTests : IAsyncLifetime
{
    /// <summary>
    /// Noon on the 10th of the current month (UTC). Redis expires a month's counters by its own clock (the month's end
    /// plus 7 days), so the fake clock's months must not be long past: with a fixed date these tests failed from the day
    /// that date's counters expired.
    /// </summary>
    private static readonly DateTimeOffset Start = new(DateTimeOffset.UtcNow.Year, DateTimeOffset.UtcNow.Month, 10, 12, 0, 0, TimeSpan.Zero);

    /// <summary>The first instant of the month after <see cref="Start"/>'s.</summary>
    private static readonly DateTimeOffset NextMonth = QuotaPeriod.StartOf(Start).AddMonths(1);

    private readonly FakeTimeProvider _clock = new(Start);
    private readonly StubQuotaStore _store = new();
    private readonly List<RedisAdmission> _admissions = [];
    private readonly string _prefix = $"t{Guid.NewGuid():N}:";
    private RedisServer _redis = null!;

    public async Task InitializeAsync()
    {
        if (RedisServer.Binary is not null || RedisServer.Required)
        {
            _redis = await RedisServer.Shared;
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var admission in _admissions)
        {
            await admission.DisposeAsync();
        }
    }

    [RedisFact]
    public async Task AdmitAsync_BucketEmptied_RefusesUntilATokenRefills()
    {
        var redis = await StartAsync();
        var caller = Caller(ratePerMinute: 60, burst: 0); // capacity 60, one token a second

        var admitted = new List<AdmissionResult>();
        for (var i = 0; i < 60; i++)
        {
            admitted.Add(await redis.AdmitAsync(caller, rateLimited: true, CancellationToken.None));
        }

        var refused = await redis.AdmitAsync(caller, rateLimited: true, CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(1));
        var refilled = await redis.AdmitAsync(caller, rateLimited: true, CancellationToken.None);
        var emptyAgain = await redis.AdmitAsync(caller, rateLimited: true, CancellationToken.None);

        Assert.All(admitted, a => Assert.Equal(AdmissionVerdict.Admitted, a.Verdict));
        Assert.Equal(59, admitted[0].RateLimit!.Value.Remaining);
        Assert.Equal(0, admitted[59].RateLimit!.Value.Remaining);
        Assert.Equal(60, admitted[0].RateLimit!.Value.Limit);
        Assert.Equal(AdmissionVerdict.RateLimited, refused.Verdict);
        Assert.Equal(TimeSpan.FromSeconds(1), refused.RateLimit!.Value.RetryAfter);
        Assert.Null(refused.Lease);
        Assert.Equal(AdmissionVerdict.Admitted, refilled.Verdict);
        Assert.Equal(AdmissionVerdict.RateLimited, emptyAgain.Verdict);
        Assert.Equal(61, refilled.Quota!.Value.Used); // the refused request took no quota unit
    }

    [RedisFact]
    public async Task AdmitAsync_LongIdle_RefillsOnlyToCapacity()
    {
        var redis = await StartAsync();
        var caller = Caller(ratePerMinute: 6, burst: 2); // capacity 8, one token per 10 s

        for (var i = 0; i < 8; i++)
        {
            Assert.Equal(AdmissionVerdict.Admitted, (await redis.AdmitAsync(caller, true, CancellationToken.None)).Verdict);
        }

        _clock.Advance(TimeSpan.FromHours(1));
        var verdicts = new List<AdmissionVerdict>();
        for (var i = 0; i < 9; i++)
        {
            verdicts.Add((await redis.AdmitAsync(caller, true, CancellationToken.None)).Verdict);
        }

        Assert.Equal(8, verdicts.Count(v => v == AdmissionVerdict.Admitted));
        Assert.Equal(AdmissionVerdict.RateLimited, verdicts[8]);
    }

    [RedisFact]
    public async Task AdmitAsync_QuotaAtLimit_RefusesWithQuotaExceeded()
    {
        var redis = await StartAsync();
        var caller = Caller(requestsPerMonth: 3);

        var results = new List<AdmissionResult>();
        for (var i = 0; i < 4; i++)
        {
            results.Add(await redis.AdmitAsync(caller, rateLimited: false, CancellationToken.None));
        }

        Assert.Equal([AdmissionVerdict.Admitted, AdmissionVerdict.Admitted, AdmissionVerdict.Admitted, AdmissionVerdict.QuotaExceeded], results.Select(r => r.Verdict));
        Assert.Equal([1L, 2L, 3L, 3L], results.Select(r => r.Quota!.Value.Used));
        Assert.Equal(NextMonth, results[3].Quota!.Value.ResetAt);
        Assert.Null(results[0].RateLimit);
        Assert.Equal(3, Integer(await _redis.CommandAsync("GET", redis.QuotaKey(caller.User.Id, QuotaPeriod.StartOf(Start)))));
    }

    [RedisFact]
    public async Task AdmitAsync_OveragePlan_AdmitsPastTheLimitAsOverage()
    {
        var redis = await StartAsync();
        var caller = Caller(requestsPerMonth: 2, overagePrice: 1);

        var results = new List<AdmissionResult>();
        for (var i = 0; i < 4; i++)
        {
            results.Add(await redis.AdmitAsync(caller, rateLimited: false, CancellationToken.None));
        }

        Assert.All(results, r => Assert.Equal(AdmissionVerdict.Admitted, r.Verdict));
        Assert.Equal([false, false, true, true], results.Select(r => r.Quota!.Value.Overage));
        Assert.Equal([1L, 2L, 3L, 4L], results.Select(r => r.Quota!.Value.Used));
    }

    [RedisFact]
    public async Task AdmitAsync_OverageBilledThroughStripe_OnlyASubscriberPassesTheLimitAndInProcessDecidesTheSame()
    {
        var redis = await StartAsync();
        var inProcess = new InProcessAdmission(new InProcessRateLimiter(_clock), new QuotaCounters(_store, _clock));
        var unsubscribed = Caller(requestsPerMonth: 2, overagePrice: 1, stripeOveragePriceId: "price_metered", unsubscribed: true);
        var subscriber = Caller(requestsPerMonth: 2, overagePrice: 1, stripeOveragePriceId: "price_metered");

        var verdicts = new Dictionary<string, List<AdmissionVerdict>>();
        foreach (var (name, admission, caller) in new (string, IAdmission, RequestIdentity)[]
                 {
                     ("redis unsubscribed", redis, unsubscribed), ("redis subscriber", redis, subscriber),
                     ("in-process unsubscribed", inProcess, unsubscribed), ("in-process subscriber", inProcess, subscriber),
                 })
        {
            verdicts[name] = [];
            for (var i = 0; i < 4; i++)
            {
                verdicts[name].Add((await admission.AdmitAsync(caller, rateLimited: false, CancellationToken.None)).Verdict);
            }
        }

        AdmissionVerdict[] held = [AdmissionVerdict.Admitted, AdmissionVerdict.Admitted, AdmissionVerdict.QuotaExceeded, AdmissionVerdict.QuotaExceeded];
        Assert.Equal(held, verdicts["redis unsubscribed"]);
        Assert.Equal(held, verdicts["in-process unsubscribed"]);
        Assert.Equal(Enumerable.Repeat(AdmissionVerdict.Admitted, 4), verdicts["redis subscriber"]);
        Assert.Equal(Enumerable.Repeat(AdmissionVerdict.Admitted, 4), verdicts["in-process subscriber"]);
    }

    [RedisFact]
    public async Task LeaseSettled_CommitAndRelease_AdjustTheSharedCounter()
    {
        var redis = await StartAsync();
        var caller = Caller(requestsPerMonth: 100);
        var key = redis.QuotaKey(caller.User.Id, QuotaPeriod.StartOf(Start));

        var first = await redis.AdmitAsync(caller, false, CancellationToken.None);
        var second = await redis.AdmitAsync(caller, false, CancellationToken.None);
        first.Lease!.Commit(5);               // 1 admitted + 4
        second.Lease!.Release();               // -1
        second.Lease.Release();                // settled already: no effect

        Assert.Equal(5, await WaitForCounterAsync(key, 5));
        var third = await redis.AdmitAsync(caller, false, CancellationToken.None);
        Assert.Equal(6, third.Quota!.Value.Used);
    }

    [RedisFact]
    public async Task MonthBoundary_NewMonthStartsAtZero_ALeaseTakenBeforeMidnightSettlesOnTheMonthItWasTakenIn()
    {
        var redis = await StartAsync();
        _clock.SetUtcNow(NextMonth.AddMilliseconds(-500));
        var caller = Caller(requestsPerMonth: 2);
        var thisMonth = redis.QuotaKey(caller.User.Id, QuotaPeriod.StartOf(Start));
        var nextMonth = redis.QuotaKey(caller.User.Id, NextMonth);

        var first = await redis.AdmitAsync(caller, false, CancellationToken.None);
        var second = await redis.AdmitAsync(caller, false, CancellationToken.None);
        var refused = await redis.AdmitAsync(caller, false, CancellationToken.None);
        _clock.Advance(TimeSpan.FromSeconds(1)); // the next month's first day, 00:00:00.5
        var newMonth = await redis.AdmitAsync(caller, false, CancellationToken.None);
        second.Lease!.Release();               // the upstream failed across midnight: the month before's unit comes back
        first.Lease!.Commit(1);

        Assert.Equal(AdmissionVerdict.QuotaExceeded, refused.Verdict);
        Assert.Equal(NextMonth, second.Quota!.Value.ResetAt);
        Assert.Equal(AdmissionVerdict.Admitted, newMonth.Verdict);
        Assert.Equal(1, newMonth.Quota!.Value.Used);
        Assert.Equal(NextMonth.AddMonths(1), newMonth.Quota.Value.ResetAt);
        Assert.Equal(1, await WaitForCounterAsync(thisMonth, 1));
        Assert.Equal(1, Integer(await _redis.CommandAsync("GET", nextMonth))); // the new month untouched by the release of the month before
        var expiresAt = Integer(await _redis.CommandAsync("EXPIRETIME", nextMonth));
        Assert.Equal(NextMonth.AddMonths(1).AddDays(7).ToUnixTimeSeconds(), expiresAt);
    }

    [RedisFact]
    public async Task Sweep_NamesOfPastMonthsAndCountersOfExpiredMonths_LetGo()
    {
        var redis = await StartAsync();
        _clock.SetUtcNow(NextMonth.AddHours(-12));
        var gone = Caller(requestsPerMonth: 100);  // used in the first month only
        var staying = Caller(requestsPerMonth: 100); // used in both months

        await redis.AdmitAsync(gone, false, CancellationToken.None);
        await redis.AdmitAsync(staying, false, CancellationToken.None);
        var firstMonth = redis.HeldEntries;
        _clock.SetUtcNow(NextMonth.AddSeconds(1));
        await redis.AdmitAsync(staying, false, CancellationToken.None);
        redis.Sweep();
        var newMonth = redis.HeldEntries;
        _clock.SetUtcNow(NextMonth.AddDays(7)); // the month before's counters expire in Redis now
        redis.Sweep();
        var firstMonthExpired = redis.HeldEntries;
        var back = await redis.AdmitAsync(gone, false, CancellationToken.None);

        Assert.Equal(4, firstMonth);        // two keys' names, two users' first-month counters
        Assert.Equal(4, newMonth);          // one key's new-month names; both first-month counters (still in Redis) and one new-month counter
        Assert.Equal(2, firstMonthExpired); // one key's new-month names and its user's new-month counter
        Assert.Equal(AdmissionVerdict.Admitted, back.Verdict); // a key let go builds its names again
        Assert.Equal(1, back.Quota!.Value.Used);
    }

    [RedisFact]
    public async Task AdmitAsync_NewKeys_ExpireOnTheirOwn()
    {
        var redis = await StartAsync();
        var caller = Caller(ratePerMinute: 60, burst: 0, requestsPerMonth: 10);

        await redis.AdmitAsync(caller, true, CancellationToken.None);

        // The bucket: refill time from empty (60 s) + a minute of margin. The counter: the month's end + 7 days.
        var bucketTtl = Integer(await _redis.CommandAsync("PTTL", redis.BucketKey(caller.User.Id, caller.Key.Id)));
        Assert.InRange(bucketTtl, 110_000, 120_000);
        var expiresAt = Integer(await _redis.CommandAsync("EXPIRETIME", redis.QuotaKey(caller.User.Id, QuotaPeriod.StartOf(Start))));
        Assert.Equal(NextMonth.AddDays(7).ToUnixTimeSeconds(), expiresAt);
    }

    [RedisFact]
    public async Task AdmitAsync_CounterMissing_SeededOnceFromTheStoreByConcurrentInstances()
    {
        var caller = Caller(requestsPerMonth: 1000);
        _store.Rows.Add(new QuotaUsage(caller.User.Id, QuotaPeriod.StartOf(Start), 40, 0));
        var one = await StartAsync();
        var two = await StartAsync();

        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            (i % 2 == 0 ? one : two).AdmitAsync(caller, false, CancellationToken.None).AsTask()));

        Assert.All(results, r => Assert.Equal(AdmissionVerdict.Admitted, r.Verdict));
        Assert.Equal(Enumerable.Range(41, 20).Select(n => (long)n), results.Select(r => r.Quota!.Value.Used).Order());
        Assert.Equal(60, Integer(await _redis.CommandAsync("GET", one.QuotaKey(caller.User.Id, QuotaPeriod.StartOf(Start)))));
    }

    [RedisFact]
    public async Task ConnectAsync_NothingListening_StartsUnavailableLoggingTheSettingAndHostButNotThePassword()
    {
        var port = LoopbackPorts.Closed();
        var logger = new RecordingLogger<RedisAdmission>();
        var admission = Create($"redis://:s3cret-pw@127.0.0.1:{port}/0", logger: logger);

        await admission.ConnectAsync(CancellationToken.None);

        Assert.False(admission.Available);
        var entry = Assert.Single(logger.Entries);
        Assert.Equal(4202, entry.EventId);
        Assert.Contains("APIGATE_REDIS_URL", entry.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", entry.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret-pw", entry.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', entry.Message);
    }

    [RedisFact]
    public async Task ConnectAsync_PasswordAndDatabaseInUrl_UsesThem()
    {
        await using var secured = await RedisServer.StartAsync(password: "p@ss:word");
        var good = Create(secured.Url(database: 3));
        var bad = Create(secured.Url(database: 3).Replace("p%40ss%3Aword", "not-the-pw-123", StringComparison.Ordinal));

        await good.ConnectAsync(CancellationToken.None);
        await good.AdmitAsync(Caller(requestsPerMonth: 5), false, CancellationToken.None);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => bad.ConnectAsync(CancellationToken.None));

        Assert.Contains("db3:keys=2,", await secured.CommandAsync("INFO", "keyspace"), StringComparison.Ordinal); // the counter and the data set's id
        Assert.Contains("APIGATE_REDIS_URL", error.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{secured.Port}", error.Message, StringComparison.Ordinal);
        Assert.Contains("refused the user and password in the URL", error.Message, StringComparison.Ordinal); // not "cannot reach"
        Assert.DoesNotContain("not-the-pw-123", error.ToString(), StringComparison.Ordinal);
    }

    [RedisFact]
    public async Task AdmitAsync_UnixSocketUrlWithPasswordAndDatabase_SharesTheBucketWithTcpClients()
    {
        // A gateway on the Redis host may reach it through its Unix socket, another through TCP: one bucket, one quota.
        await using var secured = await RedisServer.StartAsync(password: "sock@pw/1");
        var overSocket = Create(secured.SocketUrl(database: 2));
        var overTcp = Create(secured.Url(database: 2));
        await overSocket.ConnectAsync(CancellationToken.None);
        await overTcp.ConnectAsync(CancellationToken.None);
        var caller = Caller(ratePerMinute: 6, burst: 0, requestsPerMonth: 100); // capacity 6

        var results = new List<AdmissionResult>();
        for (var i = 0; i < 8; i++)
        {
            results.Add(await (i % 2 == 0 ? overSocket : overTcp).AdmitAsync(caller, true, CancellationToken.None));
        }

        Assert.All(results[..6], r => Assert.Equal(AdmissionVerdict.Admitted, r.Verdict));
        Assert.Equal([1L, 2L, 3L, 4L, 5L, 6L], results[..6].Select(r => r.Quota!.Value.Used)); // one counter, alternately
        Assert.Equal([AdmissionVerdict.RateLimited, AdmissionVerdict.RateLimited], results[6..].Select(r => r.Verdict));
        Assert.Equal($"unix:{secured.SocketPath}", overSocket.Endpoint);
        Assert.Contains("db2:keys=3,", await secured.CommandAsync("INFO", "keyspace"), StringComparison.Ordinal); // bucket, counter, data set's id
    }

    [RedisFact]
    public async Task ConnectAsync_UnixSocketThatIsNotThere_StartsUnavailableNamingTheSocketNotThePassword()
    {
        var missing = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"), "redis.sock");
        var logger = new RecordingLogger<RedisAdmission>();
        var admission = Create($"unix://:s3cret-pw@{missing}", logger: logger);

        await admission.ConnectAsync(CancellationToken.None);

        Assert.False(admission.Available);
        var message = Assert.Single(logger.Messages);
        Assert.Contains("APIGATE_REDIS_URL", message, StringComparison.Ordinal);
        Assert.Contains($"cannot reach Redis at unix:{missing}", message, StringComparison.Ordinal);
        Assert.DoesNotContain("rediss://", message, StringComparison.Ordinal); // no TLS hint for a socket
        Assert.DoesNotContain("s3cret-pw", message, StringComparison.Ordinal);
    }

    [RedisFact]
    public async Task ConnectAsync_DatabaseTheServerDoesNotHave_ThrowsOneLineNamingTheSettingAndHost()
    {
        // A redis-server has 16 databases unless configured otherwise: /99 parses, but the server has no such database.
        var admission = Create(_redis.Url(database: 99));

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => admission.ConnectAsync(CancellationToken.None));

        Assert.Equal(
            $"redis.url (APIGATE_REDIS_URL): Redis at 127.0.0.1:{_redis.Port} refused the gateway: The database does not exist on the server: 99",
            error.Message);
    }

    [RedisFact]
    public async Task ConnectAsync_PasswordMissingFromTheUrl_SaysTheServerWantsOne()
    {
        await using var secured = await RedisServer.StartAsync(password: "needed-pw-1");
        var bare = Create($"redis://127.0.0.1:{secured.Port}/0");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => bare.ConnectAsync(CancellationToken.None));

        Assert.Contains("refused the user and password in the URL", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', error.Message);
    }

    [RedisFact]
    public async Task ConnectAsync_UserMayNotRunScripts_ThrowsOneLineNamingTheSettingHostAndRefusal()
    {
        // Arrange: an ACL user that may read and write keys but not run scripts, which every admission does
        await using var server = await RedisServer.StartAsync();
        await server.CommandAsync("ACL", "SETUSER", "limited", "on", ">limited-pw-1", "~*", "+@all", "-@scripting");
        var admission = Create($"redis://limited:limited-pw-1@127.0.0.1:{server.Port}/0");

        // Act
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => admission.ConnectAsync(CancellationToken.None));

        // Assert: refused at start (exit 1), not admitted and then taken for an outage on every request
        Assert.Equal(
            $"redis.url (APIGATE_REDIS_URL): Redis at 127.0.0.1:{server.Port} refused the gateway: NOPERM this user has no permissions to run the 'evalsha' command",
            error.Message);
    }

    [RedisFact]
    public async Task ScriptsForbiddenWhileServing_OneOutageUntilTheyRunAgain_NotTakenBackByEachProbe()
    {
        // Arrange: closed mode, connected as an ACL user that may run scripts
        await using var server = await RedisServer.StartAsync();
        await server.CommandAsync("ACL", "SETUSER", "limited", "on", ">limited-pw-1", "~*", "+@all");
        var clock = new FakeTimeProvider(Start);
        var one = Create($"redis://limited:limited-pw-1@127.0.0.1:{server.Port}/0", clock, closed: true);
        await one.ConnectAsync(CancellationToken.None);
        var caller = Caller(requestsPerMonth: 1000);

        // Act: the server stops letting it run scripts while requests come and probes run (their writes still work)
        await server.CommandAsync("ACL", "SETUSER", "limited", "-@scripting");
        var verdicts = new List<AdmissionVerdict>();
        for (var i = 0; i < 8; i++)
        {
            verdicts.Add((await one.AdmitAsync(caller, false, CancellationToken.None)).Verdict);
            clock.Advance(RedisAdmission.ProbeInterval);
            await Task.Delay(50); // the probe's round trips on loopback
        }

        var outagesWhileForbidden = one.Outages;
        await server.CommandAsync("ACL", "SETUSER", "limited", "+@scripting");
        await ComeBackAsync(one, clock);
        var after = await one.AdmitAsync(caller, false, CancellationToken.None);

        // Assert: one outage (logged once), not one per request after each probe took Redis back
        Assert.All(verdicts, v => Assert.Equal(AdmissionVerdict.Unavailable, v));
        Assert.Equal(1, outagesWhileForbidden);
        Assert.Equal(AdmissionVerdict.Admitted, after.Verdict);
    }

    [RedisFact]
    public async Task RedisRestartedEmpty_OneInstanceReseedsBeforeTheOtherIsBack_TheOthersLocalUnitsAreNotCountedTwice()
    {
        // Arrange: two instances on one Redis, each with its own clock so each comes back when its probe is let run.
        await using var redis = await RedisServer.StartAsync();
        var caller = Caller(requestsPerMonth: 1000);
        var period = QuotaPeriod.StartOf(Start);
        FakeTimeProvider clockOne = new(Start), clockTwo = new(Start);
        var one = Create(redis.Url(), clockOne, TimeSpan.FromMilliseconds(300));
        var two = Create(redis.Url(), clockTwo, TimeSpan.FromMilliseconds(300));
        await one.ConnectAsync(CancellationToken.None);
        await two.ConnectAsync(CancellationToken.None);
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(AdmissionVerdict.Admitted, (await (i % 2 == 0 ? one : two).AdmitAsync(caller, false, CancellationToken.None)).Verdict);
        }

        // Redis dies; each instance finds out and then counts units itself (4, or 3 when the request that found out
        // had been sent: its unit is left to Redis).
        await redis.StopAsync();
        foreach (var instance in new[] { one, two })
        {
            await instance.AdmitAsync(caller, false, CancellationToken.None);
            Assert.False(instance.Available);
            for (var i = 0; i < 3; i++)
            {
                Assert.Equal(AdmissionVerdict.Admitted, (await instance.AdmitAsync(caller, false, CancellationToken.None)).Verdict);
            }
        }

        var local = one.PendingUnits(caller.User.Id) + two.PendingUnits(caller.User.Id);
        Assert.InRange(local, 6, 8);
        Assert.InRange(two.PendingUnits(caller.User.Id), 3, 4);

        // The store has every unit by now (their usage events): the 10 before, those counted locally.
        _store.Rows.Add(new QuotaUsage(caller.User.Id, period, 10 + local, 0));

        // Act: Redis is back without its data. Instance one comes back first and seeds the counter from the store with
        // its next request; then instance two comes back, with its 3 units still pending.
        await redis.RestartAsync();
        await ComeBackAsync(one, clockOne);
        var seeded = await one.AdmitAsync(caller, false, CancellationToken.None);
        await ComeBackAsync(two, clockTwo);

        // Assert: the store's units and the one request since; not instance two's local units once more.
        Assert.Equal(10 + local + 1, seeded.Quota!.Value.Used);
        Assert.Equal(0, two.PendingUnits(caller.User.Id));
        Assert.Equal(10 + local + 1, Integer(await redis.CommandAsync("GET", one.QuotaKey(caller.User.Id, period))));
        Assert.Equal(10 + local + 2, (await two.AdmitAsync(caller, false, CancellationToken.None)).Quota!.Value.Used);
    }

    [RedisFact]
    public async Task RedisUnreachableButKeptItsData_LocalUnitsAreAddedWhenItIsBack()
    {
        // Arrange
        await using var redis = await RedisServer.StartAsync();
        var caller = Caller(requestsPerMonth: 1000);
        var clock = new FakeTimeProvider(Start);
        var one = Create(redis.Url(), clock, TimeSpan.FromMilliseconds(300));
        await one.ConnectAsync(CancellationToken.None);
        await one.AdmitAsync(caller, false, CancellationToken.None);
        await redis.PauseAsync();
        await one.AdmitAsync(caller, false, CancellationToken.None); // times out: its unit is left to Redis
        for (var i = 0; i < 4; i++)
        {
            await one.AdmitAsync(caller, false, CancellationToken.None);
        }

        // Act
        await redis.ResumeAsync();
        await ComeBackAsync(one, clock);

        // Assert: the first unit, the one left to the stalled server, and the 4 counted here.
        Assert.Equal(0, one.PendingUnits(caller.User.Id));
        Assert.Equal(6, Integer(await redis.CommandAsync("GET", one.QuotaKey(caller.User.Id, QuotaPeriod.StartOf(Start)))));
    }

    [RedisFact]
    public async Task StoppedDuringAnOutage_UnitsCountedLocally_HandedToTheStoreAndAddedByTheNextInstanceThatReachesRedis()
    {
        // Arrange: 2 units in Redis; then Redis stalls and the instance counts 4 on its own (after the one whose script
        // was sent, which the stalled server runs when it resumes) and stops before Redis answers again
        await using var redis = await RedisServer.StartAsync();
        var caller = Caller(requestsPerMonth: 1000);
        var period = QuotaPeriod.StartOf(Start);
        var clock = new FakeTimeProvider(Start);
        var one = Create(redis.Url(), clock, TimeSpan.FromMilliseconds(300));
        await one.ConnectAsync(CancellationToken.None);
        await one.AdmitAsync(caller, false, CancellationToken.None);
        await one.AdmitAsync(caller, false, CancellationToken.None);
        await redis.PauseAsync();
        await one.AdmitAsync(caller, false, CancellationToken.None); // times out: its unit is left to Redis
        for (var i = 0; i < 4; i++)
        {
            await one.AdmitAsync(caller, false, CancellationToken.None);
        }

        // Act: the stop, then Redis back and another instance started
        await one.HandOverAsync(CancellationToken.None);
        await one.DisposeAsync();
        await redis.ResumeAsync();
        var two = Create(redis.Url(), clock, TimeSpan.FromMilliseconds(300));
        await two.ConnectAsync(CancellationToken.None);
        await Poll.UntilAsync(() => two.PendingUnits(caller.User.Id) == 4);
        for (var i = 0; i < 200 && Integer(await redis.CommandAsync("GET", two.QuotaKey(caller.User.Id, period))) != 7; i++)
        {
            clock.Advance(RedisAdmission.ProbeInterval); // the probe adds what it took, as it adds its own units
            await Task.Delay(25);
        }

        // Assert: every unit served is in Redis — not short of the 4 the stopped instance counted on its own
        Assert.Empty(_store.HandedOver);
        Assert.Equal(0, two.PendingUnits(caller.User.Id));
        Assert.Equal(7, Integer(await redis.CommandAsync("GET", two.QuotaKey(caller.User.Id, period))));
        Assert.Equal(8, (await two.AdmitAsync(caller, false, CancellationToken.None)).Quota!.Value.Used);
    }

    [RedisFact]
    public async Task StoppedDuringAnOutage_RedisLostItsDataMeanwhile_HandedOverUnitsNotAddedTheStoreSeedsTheCounter()
    {
        // Arrange: 3 units counted on its own by an instance that stops while Redis is down; Redis then restarts empty
        await using var redis = await RedisServer.StartAsync();
        var caller = Caller(requestsPerMonth: 1000);
        var period = QuotaPeriod.StartOf(Start);
        var clock = new FakeTimeProvider(Start);
        var one = Create(redis.Url(), clock, TimeSpan.FromMilliseconds(300));
        await one.ConnectAsync(CancellationToken.None);
        await one.AdmitAsync(caller, false, CancellationToken.None);
        await redis.StopAsync();
        for (var i = 0; i < 3; i++)
        {
            await one.AdmitAsync(caller, false, CancellationToken.None);
        }

        await one.HandOverAsync(CancellationToken.None);
        await one.DisposeAsync();
        var handedOver = _store.HandedOver.Sum(h => h.Units.Used);
        _store.Rows.Add(new QuotaUsage(caller.User.Id, period, 4, 0)); // the usage events of all four requests
        clock.Advance(QuotaSeeds.MaxAge + QuotaSeeds.MaxAge);

        // Act
        await redis.RestartAsync();
        var two = Create(redis.Url(), clock, TimeSpan.FromMilliseconds(300));
        await two.ConnectAsync(CancellationToken.None);
        clock.Advance(RedisAdmission.ProbeInterval);
        await Task.Delay(200);
        var next = await two.AdmitAsync(caller, false, CancellationToken.None);

        // Assert: the counter seeded from the store, which holds the 3 units; not those 3 once more
        Assert.True(handedOver is 2 or 3, $"handed over {handedOver}"); // the first after the stop may have been sent before the connection broke
        Assert.Equal(0, two.PendingUnits(caller.User.Id));
        Assert.Equal(5, next.Quota!.Value.Used);
        Assert.Equal(5, Integer(await redis.CommandAsync("GET", two.QuotaKey(caller.User.Id, period))));
    }

    [RedisFact]
    public async Task RedisLostItsDataWhileTheStoreCannotSeed_UnitsCountedLocallyKeepCounting_QuotaHolds()
    {
        // Arrange: 6 of 10 units used in Redis; then Redis loses its data (flushed, no outage) while the store cannot be
        // read, so the counter cannot be seeded again and each request is decided here
        await using var redis = await RedisServer.StartAsync();
        var caller = Caller(requestsPerMonth: 10);
        var clock = new FakeTimeProvider(Start);
        var one = Create(redis.Url(), clock, TimeSpan.FromMilliseconds(300));
        await one.ConnectAsync(CancellationToken.None);
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(AdmissionVerdict.Admitted, (await one.AdmitAsync(caller, false, CancellationToken.None)).Verdict);
        }

        _store.Rows.Add(new QuotaUsage(caller.User.Id, QuotaPeriod.StartOf(Start), 6, 0)); // their usage events
        clock.Advance(QuotaSeeds.MaxAge + QuotaSeeds.MaxAge); // the store's counters loaded at start are not used again
        _store.Failing = true;
        await redis.CommandAsync("FLUSHALL");

        // Act: ten requests, the probe let run after each (it tries to add the units counted here to Redis)
        var verdicts = new List<AdmissionVerdict>();
        for (var i = 0; i < 10; i++)
        {
            verdicts.Add((await one.AdmitAsync(caller, false, CancellationToken.None)).Verdict);
            clock.Advance(RedisAdmission.ProbeInterval);
            await Poll.UntilAsync(() => one.PendingUnits(caller.User.Id) == 0);
        }

        // Assert: the 4 units left, then refused — not every request admitted because each probe forgot the last one
        Assert.Equal(4, verdicts.Count(v => v == AdmissionVerdict.Admitted));
        Assert.All(verdicts.Skip(4), v => Assert.Equal(AdmissionVerdict.QuotaExceeded, v));
    }

    [RedisFact]
    public async Task RedisStops_UserSpentMostOfTheQuotaThroughAnotherInstance_TheFallbackCountsWhatTheStoreHolds()
    {
        // Arrange: a plan of 20 a month; 15 used through instance two (their usage events in the store), none through one
        await using var redis = await RedisServer.StartAsync();
        var caller = Caller(requestsPerMonth: 20);
        var clock = new FakeTimeProvider(Start);
        var one = Create(redis.Url(), clock, TimeSpan.FromMilliseconds(300));
        var two = Create(redis.Url(), clock, TimeSpan.FromMilliseconds(300));
        await one.ConnectAsync(CancellationToken.None);
        await two.ConnectAsync(CancellationToken.None);
        for (var i = 0; i < 15; i++)
        {
            Assert.Equal(AdmissionVerdict.Admitted, (await two.AdmitAsync(caller, false, CancellationToken.None)).Verdict);
        }

        _store.Rows.Add(new QuotaUsage(caller.User.Id, QuotaPeriod.StartOf(Start), 15, 0));
        await redis.StopAsync();
        await UnavailableWithTheStoreReadAsync(one, clock, caller, 15);

        // Act
        var verdicts = new List<AdmissionVerdict>();
        for (var i = 0; i < 10; i++)
        {
            verdicts.Add((await one.AdmitAsync(caller, false, CancellationToken.None)).Verdict);
        }

        // Assert: the 5 the plan has left, not a fresh 20 because this instance had never served the user
        Assert.Equal(5, verdicts.Count(v => v == AdmissionVerdict.Admitted));
        Assert.All(verdicts.Skip(5), v => Assert.Equal(AdmissionVerdict.QuotaExceeded, v));
    }

    [RedisFact]
    public async Task RedisStaysDown_TheStoreIsReadAgain_OtherInstancesUnitsCountAndThisOnesAreNotCountedTwice()
    {
        // Arrange: 10 of 20 used before Redis stopped; then 4 admitted here during the outage
        await using var redis = await RedisServer.StartAsync();
        var caller = Caller(requestsPerMonth: 20);
        var clock = new FakeTimeProvider(Start);
        var one = Create(redis.Url(), clock, TimeSpan.FromMilliseconds(300));
        await one.ConnectAsync(CancellationToken.None);
        var period = QuotaPeriod.StartOf(Start);
        _store.Rows.Add(new QuotaUsage(caller.User.Id, period, 10, 0));
        await redis.StopAsync();
        await UnavailableWithTheStoreReadAsync(one, clock, caller, 10);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(AdmissionVerdict.Admitted, (await one.AdmitAsync(caller, false, CancellationToken.None)).Verdict);
        }

        // Act: the store now holds those 4 and 3 that another instance admitted in its own fallback; read again when due
        _store.Rows.Add(new QuotaUsage(caller.User.Id, period, 4 + 3, 0));
        clock.Advance(RedisAdmission.StoredUsageInterval);
        await Poll.UntilAsync(() =>
        {
            clock.Advance(RedisAdmission.ProbeInterval);
            return one.StoredUnits(caller.User.Id) == 17;
        });
        var verdicts = new List<AdmissionVerdict>();
        for (var i = 0; i < 6; i++)
        {
            verdicts.Add((await one.AdmitAsync(caller, false, CancellationToken.None)).Verdict);
        }

        // Assert: 17 used, so 3 left — not 6 (the other instance's unseen) nor none (this one's 4 counted twice)
        Assert.Equal(3, verdicts.Count(v => v == AdmissionVerdict.Admitted));
    }

    [RedisFact]
    public async Task RedisUnreachable_OverageBilledThroughStripe_TheFallbackHoldsTheUnsubscribedToTheQuotaAndLetsTheSubscriberPast()
    {
        // Arrange: a plan of 3 a month whose overage is billed through Stripe; each caller spent 1 through another
        // instance (in the store); Redis stops, so this instance's local fallback decides (mode open)
        await using var redis = await RedisServer.StartAsync();
        var unsubscribed = Caller(requestsPerMonth: 3, overagePrice: 1, stripeOveragePriceId: "price_metered", unsubscribed: true);
        var subscriber = Caller(requestsPerMonth: 3, overagePrice: 1, stripeOveragePriceId: "price_metered");
        var clock = new FakeTimeProvider(Start);
        var one = Create(redis.Url(), clock, TimeSpan.FromMilliseconds(300));
        await one.ConnectAsync(CancellationToken.None);
        Assert.True(one.FailsOpen);
        var period = QuotaPeriod.StartOf(Start);
        _store.Rows.Add(new QuotaUsage(unsubscribed.User.Id, period, 1, 0));
        _store.Rows.Add(new QuotaUsage(subscriber.User.Id, period, 1, 0));
        await redis.StopAsync();
        await UnavailableWithTheStoreReadAsync(one, clock, unsubscribed, 1);
        await UnavailableWithTheStoreReadAsync(one, clock, subscriber, 1);

        // Act
        var held = new List<AdmissionResult>();
        var paying = new List<AdmissionResult>();
        for (var i = 0; i < 4; i++)
        {
            held.Add(await one.AdmitAsync(unsubscribed, false, CancellationToken.None));
            paying.Add(await one.AdmitAsync(subscriber, false, CancellationToken.None));
        }

        // Assert: still down, so these were the fallback's decisions; the 2 left, then 402 for the one who does not pay
        Assert.False(one.Available);
        Assert.Equal(
            [AdmissionVerdict.Admitted, AdmissionVerdict.Admitted, AdmissionVerdict.QuotaExceeded, AdmissionVerdict.QuotaExceeded],
            held.Select(r => r.Verdict));
        Assert.Equal([2L, 3L, 3L, 3L], held.Select(r => r.Quota!.Value.Used));
        Assert.All(held, r => Assert.False(r.Quota!.Value.Overage));
        Assert.All(paying, r => Assert.Equal(AdmissionVerdict.Admitted, r.Verdict));
        Assert.Equal([2L, 3L, 4L, 5L], paying.Select(r => r.Quota!.Value.Used));
        Assert.Equal([false, false, true, true], paying.Select(r => r.Quota!.Value.Overage));
    }

    /// <summary>Lets the instance's probe notice that Redis is gone and read the store's usage of the caller (bounded).</summary>
    private static async Task UnavailableWithTheStoreReadAsync(RedisAdmission admission, FakeTimeProvider clock, RequestIdentity caller, long stored)
    {
        await Poll.UntilAsync(() =>
        {
            clock.Advance(RedisAdmission.ProbeInterval);
            return !admission.Available && admission.StoredUnits(caller.User.Id) == stored;
        });
    }

    [RedisTheory]
    [InlineData("1.5")]
    [InlineData("1e3")]
    [InlineData("lots")]
    public async Task CounterOverwrittenWithSomethingNotAWholeNumber_ReplacedFromTheStoreOnce_TokenTakenOnceAndLoggedOnce(string written)
    {
        // Arrange: a user with 40 units in the store, a key whose bucket holds 3 tokens, and a counter in Redis that
        // another program overwrote after the first request
        var caller = Caller(ratePerMinute: 3, burst: 0, requestsPerMonth: 1000);
        _store.Rows.Add(new QuotaUsage(caller.User.Id, QuotaPeriod.StartOf(Start), 40, 0));
        var log = new RecordingLogger<RedisAdmission>();
        var admission = Create(_redis.Url(), logger: log);
        await admission.ConnectAsync(CancellationToken.None);
        var key = admission.QuotaKey(caller.User.Id, QuotaPeriod.StartOf(Start));
        await admission.AdmitAsync(caller, true, CancellationToken.None);
        await _redis.CommandAsync("SET", key, written);

        // Act: three more requests with no time passing
        var verdicts = new List<AdmissionResult>();
        for (var i = 0; i < 3; i++)
        {
            verdicts.Add(await admission.AdmitAsync(caller, true, CancellationToken.None));
        }

        // Assert: the counter is a whole number again, from the store's 40 plus the one request after the repair (the
        // store is the record); the bucket's 3 tokens gave exactly 3 admissions in all (none taken in Redis and again
        // locally); one warning naming the key, no refusal logged per request
        Assert.Equal([AdmissionVerdict.Admitted, AdmissionVerdict.Admitted, AdmissionVerdict.RateLimited], verdicts.Select(v => v.Verdict));
        Assert.Equal(42, verdicts[1].Quota!.Value.Used);
        Assert.Equal(42, Integer(await _redis.CommandAsync("GET", key)));
        Assert.Equal(1, log.Count(4209));
        Assert.Contains(key, log.Entries.Single(e => e.EventId == 4209).Message, StringComparison.Ordinal);
        Assert.Equal(0, log.Count(4205));
        Assert.True(admission.Available);
    }

    [RedisFact]
    public async Task SettlementOnACounterThatIsNotAWholeNumber_NotAddedAndNotRefused_TheNextAdmissionReplacesIt()
    {
        // Arrange: an admitted request whose lease is settled at 5 units, after another program wrote text into the counter
        var caller = Caller(requestsPerMonth: 1000);
        _store.Rows.Add(new QuotaUsage(caller.User.Id, QuotaPeriod.StartOf(Start), 10, 0));
        var log = new RecordingLogger<RedisAdmission>();
        var admission = Create(_redis.Url(), logger: log);
        await admission.ConnectAsync(CancellationToken.None);
        var key = admission.QuotaKey(caller.User.Id, QuotaPeriod.StartOf(Start));
        var admitted = await admission.AdmitAsync(caller, false, CancellationToken.None);
        await _redis.CommandAsync("SET", key, "oops");

        // Act
        admission.Settle(caller.User.Id, admitted.Quota!.Value, 5);
        var next = await admission.AdmitAsync(caller, false, CancellationToken.None);
        for (var i = 0; i < 10 && log.Count(4206) == 0; i++)
        {
            await Task.Delay(20); // the settlement's reply came first (one connection, in order); its handler may still run
        }

        // Assert: the settlement left the text alone (no refusal logged), and the next admission set the counter from
        // the store's 10 again and counted itself
        Assert.Equal(0, log.Count(4206));
        Assert.Equal(11, next.Quota!.Value.Used);
        Assert.Equal(11, Integer(await _redis.CommandAsync("GET", key)));
    }

    [RedisFact]
    public async Task DataSetKeyOfAnotherType_TwoInstancesReplaceIt_TheSecondAdoptsTheFirstsName()
    {
        // Arrange: a hash where the data set's name lives, seen as broken by two instances before either replaced it
        await using var connection = await _redis.ConnectAsync();
        var database = connection.GetDatabase();
        var key = _prefix + "data-set";
        await _redis.CommandAsync("HSET", key, "not", "a-name");

        // Act: the first replaces it, then the second, which read the hash before the first's replacement
        var first = await RedisAdmission.ReplaceBrokenDataSetAsync(database, key, "first");
        var second = await RedisAdmission.ReplaceBrokenDataSetAsync(database, key, "second");

        // Assert: one name for both (the second deleting the first's name would make the first see a second data loss)
        Assert.Equal("first", first);
        Assert.Equal("first", second);
        Assert.Equal("$5\r\nfirst", await _redis.CommandAsync("GET", key));
    }

    [RedisFact]
    public async Task CounterTheStoreCannotSeed_TwoInstances_TheBucketIsStillSharedInRedis()
    {
        // Arrange: a key whose bucket holds 5 tokens, a user with no counter in Redis yet (a new month, say), and a store
        // that does not answer, so neither instance can seed the counter
        var caller = Caller(ratePerMinute: 5, burst: 0, requestsPerMonth: 1000);
        var clock = new FakeTimeProvider(Start);
        var one = Create(_redis.Url(), clock);
        var two = Create(_redis.Url(), clock);
        await one.ConnectAsync(CancellationToken.None);
        await two.ConnectAsync(CancellationToken.None);
        _store.Failing = true;
        clock.Advance(QuotaSeeds.MaxAge + QuotaSeeds.MaxAge); // no counters loaded earlier are used

        // Act: ten requests, alternately through each instance, with no time passing (no token comes back)
        var verdicts = new List<AdmissionVerdict>();
        for (var i = 0; i < 10; i++)
        {
            verdicts.Add((await (i % 2 == 0 ? one : two).AdmitAsync(caller, true, CancellationToken.None)).Verdict);
        }

        // Assert: the bucket's 5, as one instance would — not 5 from each instance's own bucket; the quota units were
        // counted by the instances (no counter was made up in Redis)
        Assert.Equal(5, verdicts.Count(v => v == AdmissionVerdict.Admitted));
        Assert.Equal(5, verdicts.Count(v => v == AdmissionVerdict.RateLimited));
        Assert.True(one.Available && two.Available);
        Assert.Equal(0, Integer(await _redis.CommandAsync("EXISTS", one.QuotaKey(caller.User.Id, QuotaPeriod.StartOf(clock.GetUtcNow())))));
    }

    [RedisFact]
    public Task RedisOutOfMemoryRefusesWrites_RequestsMeanwhile_StaysUnavailableUntilItTakesThemAgain() => OutOfMemoryAsync(requestsDuringTheOutage: true);

    [RedisFact]
    public Task RedisOutOfMemoryRefusesWrites_NoRequestsMeanwhile_StaysUnavailableUntilItTakesThemAgain() => OutOfMemoryAsync(requestsDuringTheOutage: false);

    [RedisFact]
    public Task RedisOutOfMemoryRefusesWrites_ClosedModeNothingCountedHere_StaysUnavailableUntilItTakesThemAgain() => OutOfMemoryAsync(requestsDuringTheOutage: true, closed: true);

    private async Task OutOfMemoryAsync(bool requestsDuringTheOutage, bool closed = false)
    {
        // Arrange: a Redis that answers PING but refuses every write (maxmemory reached, noeviction)
        await using var redis = await RedisServer.StartAsync();
        var caller = Caller(requestsPerMonth: 1000);
        var clock = new FakeTimeProvider(Start);
        var one = Create(redis.Url(), clock, closed: closed); // the refusals are answers, not timeouts
        await one.ConnectAsync(CancellationToken.None);
        await one.AdmitAsync(caller, false, CancellationToken.None);
        await redis.CommandAsync("CONFIG", "SET", "maxmemory", "1");
        Assert.Equal(closed ? AdmissionVerdict.Unavailable : AdmissionVerdict.Admitted, (await one.AdmitAsync(caller, false, CancellationToken.None)).Verdict);
        if (!requestsDuringTheOutage)
        {
            await Poll.UntilAsync(() => one.PendingUnits(caller.User.Id) == 1);
        }

        // Act: the probe runs ten times while writes are refused
        var availableMeanwhile = false;
        for (var i = 0; i < 10; i++)
        {
            if (requestsDuringTheOutage)
            {
                await one.AdmitAsync(caller, false, CancellationToken.None);
            }

            clock.Advance(RedisAdmission.ProbeInterval);
            await Task.Delay(25);
            availableMeanwhile |= one.Available;
        }

        await redis.CommandAsync("CONFIG", "SET", "maxmemory", "0");
        await ComeBackAsync(one, clock);

        // Assert: not taken back while it could not count a unit, and every unit counted meanwhile is in Redis after
        Assert.False(availableMeanwhile);
        Assert.Equal(0, one.PendingUnits(caller.User.Id));
        Assert.Equal(closed ? 1 : requestsDuringTheOutage ? 12 : 2, Integer(await redis.CommandAsync("GET", one.QuotaKey(caller.User.Id, QuotaPeriod.StartOf(Start)))));
    }

    /// <summary>Lets the instance's probe run (its clock moved one interval) until it uses Redis again; bounded.</summary>
    private static async Task ComeBackAsync(RedisAdmission admission, FakeTimeProvider clock)
    {
        for (var i = 0; i < 200 && !admission.Available; i++)
        {
            clock.Advance(RedisAdmission.ProbeInterval);
            await Task.Delay(25);
        }

        Assert.True(admission.Available);
    }

    private async Task<RedisAdmission> StartAsync()
    {
        var admission = Create(_redis.Url());
        await admission.ConnectAsync(CancellationToken.None);
        return admission;
    }

    private RedisAdmission Create(string url, FakeTimeProvider? clock = null, TimeSpan? timeout = null, bool closed = false, ILogger<RedisAdmission>? logger = null)
    {
        clock ??= _clock;
        var options = new GatewayOptions
        {
            RedisUrl = url, RedisPrefix = _prefix, RedisTimeout = timeout ?? TimeSpan.FromSeconds(2), LimitsOnRedisFailure = closed ? "closed" : "open",
        };
        var admission = new RedisAdmission(options, new QuotaSeeds(_store, clock), clock, logger ?? NullLogger<RedisAdmission>.Instance, _store);
        _admissions.Add(admission);
        return admission;
    }

    private async Task<long> WaitForCounterAsync(string key, long expected)
    {
        long value = 0;
        for (var i = 0; i < 100; i++) // settlement does not wait for Redis: poll, bounded
        {
            value = Integer(await _redis.CommandAsync("GET", key));
            if (value == expected)
            {
                break;
            }

            await Task.Delay(20);
        }

        return value;
    }

    /// <summary>The number in an integer (<c>:5</c>) or bulk string (<c>$1\r\n5</c>) reply.</summary>
    private static long Integer(string reply) =>
        long.Parse(reply.StartsWith('$') ? reply.Split("\r\n")[1] : reply.TrimStart(':'), CultureInfo.InvariantCulture);

    internal static RequestIdentity Caller(
        int ratePerMinute = 0, int burst = 5, long requestsPerMonth = 0, long overagePrice = 0, string stripeOveragePriceId = "", bool unsubscribed = false)
    {
        var id = "usr_" + Guid.NewGuid().ToString("N")[..12];
        var plan = new PlanDefinition
        {
            Id = "p", Name = "P", RateLimitPerMinute = ratePerMinute, RequestsPerMonth = requestsPerMonth, OveragePrice = overagePrice,
            StripeOveragePriceId = stripeOveragePriceId,
        };
        return new RequestIdentity(
            new ApiKeyDefinition { Id = "key_" + id[4..], UserId = id, Prefix = "ak_00000000" },
            new UserDefinition { Id = id, Email = id + "@example.com", PlanId = "p" },
            new PlanRuntime(plan, TokenBucketPolicy.FromPlan(ratePerMinute, burst), []), unsubscribed);
    }

    private sealed class StubQuotaStore : IQuotaStore, IRedisHandoverStore
    {
        public List<QuotaUsage> Rows { get; } = [];

        /// <summary>What stopping instances handed over, by data set.</summary>
        public List<(string DataSet, QuotaUsage Units)> HandedOver { get; } = [];

        /// <summary>True: every load fails, as a store that is down.</summary>
        public bool Failing { get; set; }

        public Task<IReadOnlyList<QuotaUsage>> LoadQuotaUsageAsync(DateTimeOffset periodStart, CancellationToken cancellationToken) =>
            Failing
                ? Task.FromException<IReadOnlyList<QuotaUsage>>(new StoreBusyException("the store is down"))
                : Task.FromResult<IReadOnlyList<QuotaUsage>>(Rows.Where(r => r.PeriodStart == periodStart).ToList());

        public Task<QuotaUsage> FindQuotaUsageAsync(string userId, DateTimeOffset periodStart, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task AddQuotaUsageAsync(IReadOnlyList<QuotaUsage> deltas, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task HandOverRedisUnitsAsync(string dataSet, IReadOnlyList<QuotaUsage> units, CancellationToken cancellationToken)
        {
            lock (HandedOver)
            {
                HandedOver.AddRange(units.Select(u => (dataSet, u)));
            }

            return Task.CompletedTask;
        }

        public Task<IReadOnlyList<QuotaUsage>> TakeRedisUnitsAsync(string dataSet, DateTimeOffset expiredBefore, CancellationToken cancellationToken)
        {
            lock (HandedOver)
            {
                var taken = HandedOver.Where(h => h.DataSet == dataSet && h.Units.PeriodStart >= expiredBefore).Select(h => h.Units).ToList();
                HandedOver.RemoveAll(h => h.DataSet == dataSet || h.Units.PeriodStart < expiredBefore);
                return Task.FromResult<IReadOnlyList<QuotaUsage>>(taken);
            }
        }
    }
}
