using System.Net;
using ApiGate.Core.Management;
using ApiGate.Core.Quotas;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Usage;
using ApiGate.Storage;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Persistence;

/// <summary>
/// SPEC §12 as an operator runs it: two gateways on their own loopback ports sharing one PostgreSQL database and one
/// redis-server. Together they admit exactly what one gateway would, and the usage both of them record ends up in
/// the one store: every admitted request once, none of the refused ones.
/// </summary>
public sealed class ScaleOutTests(StoreEngines engines) : IClassFixture<StoreEngines>, IAsyncLifetime
{
    private readonly string _prefix = $"s{Guid.NewGuid():N}:";
    private readonly List<TestGateway> _gateways = [];
    private TestUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await TestUpstream.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var gateway in _gateways)
        {
            await gateway.DisposeAsync();
        }

        await _upstream.DisposeAsync();
    }

    [PostgresAndRedisFact]
    public async Task TwoInstancesOnPostgresAndRedis_200ParallelOnA20PerMinutePlan_AdmitExactlyTheBucketAndStoreEachOnce()
    {
        // Arrange: one frozen clock for both, so no token refills during the burst: capacity = 20 + burst 5.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var (one, two) = await StartPairAsync(clock);
        var (key, userId) = await CreateKeyAsync(one, two, new PlanInput { Id = "twenty", Name = "Twenty", RateLimitPerMinute = 20 });

        // Act
        var statuses = await SendSplitAsync(one, two, key, 200);

        // Assert
        Assert.Equal(25, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(175, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.Equal(25, _upstream.Received.Count);
        await AssertStoredAsync(one, two, userId, clock, 25);
    }

    [PostgresAndRedisFact]
    public async Task TwoInstancesOnPostgresAndRedis_50UnitMonthlyQuota_AdmitExactly50AndStoreEachOnce()
    {
        // Arrange
        var clock = TimeProvider.System;
        var (one, two) = await StartPairAsync(clock);
        var (key, userId) = await CreateKeyAsync(one, two, new PlanInput { Id = "fifty", Name = "Fifty", RequestsPerMonth = 50 });

        // Act
        var statuses = await SendSplitAsync(one, two, key, 200);

        // Assert
        Assert.Equal(50, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(150, statuses.Count(s => s == HttpStatusCode.PaymentRequired));
        Assert.Equal(50, _upstream.Received.Count);
        await AssertStoredAsync(one, two, userId, clock, 50);
    }

    private async Task<(TestGateway One, TestGateway Two)> StartPairAsync(TimeProvider clock)
    {
        var dsn = await engines.NewDsnAsync(GatewayStores.Postgres); // a schema of its own per test
        var redis = await RedisServer.Shared;
        void Configure(GatewayOptions o)
        {
            o.DatabaseDriver = GatewayStores.Postgres;
            o.DatabaseDsn = dsn;
            o.RedisUrl = redis.Url();
            o.RedisPrefix = _prefix;
        }

        var one = await TestGateway.StartAsync(Configure, timeProvider: clock);
        _gateways.Add(one);
        var two = await TestGateway.StartAsync(Configure, timeProvider: clock);
        _gateways.Add(two);
        return (one, two);
    }

    private async Task<(string Key, string UserId)> CreateKeyAsync(TestGateway one, TestGateway two, PlanInput plan)
    {
        await one.AddUpstreamAsync("backend", _upstream.Url);
        await one.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true }, reload: false);
        var (key, user, _) = await one.CreateKeyAsync("scale@example.com", plan);
        await one.ReloadAsync();
        await two.ReloadAsync();
        return (key, user.Id);
    }

    /// <summary>Both instances' usage, read back from the one store: requests and units each counted exactly once.</summary>
    private static async Task AssertStoredAsync(TestGateway one, TestGateway two, string userId, TimeProvider clock, long admitted)
    {
        var recorders = new[] { one.Service<UsageRecorder>(), two.Service<UsageRecorder>() };
        for (var i = 0; i < 400 && recorders.Sum(r => r.Written) < admitted; i++) // bounded: 10 s
        {
            (clock as FakeTimeProvider)?.Advance(TimeSpan.FromMilliseconds(100)); // a frozen clock never closes a batch window
            await Task.Delay(25);
        }

        var now = clock.GetUtcNow();
        var month = QuotaPeriod.StartOf(now);
        var summary = await one.Store.GetUsageSummaryAsync(userId, month, month.AddMonths(1), CancellationToken.None);
        var quota = (await two.Store.LoadQuotaUsageAsync(month, CancellationToken.None)).Where(u => u.UserId == userId).Sum(u => u.Used);
        Assert.Equal(admitted, recorders.Sum(r => r.Written));
        Assert.Equal(admitted, summary.Requests);
        Assert.Equal(admitted, summary.Units);
        Assert.Equal(admitted, quota);
    }

    private static async Task<HttpStatusCode[]> SendSplitAsync(TestGateway one, TestGateway two, string key, int count)
    {
        using var start = new ManualResetEventSlim();
        var tasks = Enumerable.Range(0, count).Select(i => Task.Run(async () =>
        {
            start.Wait();
            using var request = new HttpRequestMessage(HttpMethod.Get, (i % 2 == 0 ? one : two).Url + "/api/x");
            request.Headers.Add("X-API-Key", key);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20)); // bounded: a hang fails the test
            using var response = await (i % 2 == 0 ? one : two).Client.SendAsync(request, timeout.Token);
            await response.Content.LoadIntoBufferAsync(timeout.Token);
            return response.StatusCode;
        })).ToList();
        start.Set();
        return await Task.WhenAll(tasks);
    }
}
