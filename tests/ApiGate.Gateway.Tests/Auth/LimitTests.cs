using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Limits;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Auth;

public sealed class LimitTests : GatewayTestBase
{
    private protected override void Configure(GatewayOptions options) => options.RateLimitBurst = 5;

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "private", Path = "/private/*", Upstream = "backend", AuthRequired = true });
    }

    [Fact]
    public async Task ConcurrentBurst_AdmitsExactlyTheBucketCapacity()
    {
        // 60/min + burst 5 = 65 tokens; refill is 1/s, so a burst that ends within a second admits 65, at most 66.
        var (key, _, _) = await Gateway.CreateKeyAsync("burst@example.com", new PlanInput { Id = "sixty", Name = "Sixty", RateLimitPerMinute = 60 });
        using var start = new ManualResetEventSlim();
        var tasks = Enumerable.Range(0, 100).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            return await SendAsync(key);
        })).ToList();

        start.Set();
        var responses = await Task.WhenAll(tasks);

        var admitted = responses.Count(r => r.StatusCode == HttpStatusCode.OK);
        var limited = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.InRange(admitted, 65, 66);
        Assert.Equal(100 - admitted, limited.Count);
        Assert.Equal(admitted, Upstream.Received.Count);
        var sample = limited[0];
        Assert.True(sample.Headers.RetryAfter!.Delta!.Value.TotalSeconds >= 1);
        Assert.Equal("65", sample.Headers.GetValues("X-RateLimit-Limit").Single());
        Assert.Equal("0", sample.Headers.GetValues("X-RateLimit-Remaining").Single());
        await AuthenticationTests.AssertErrorAsync(sample, HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
    }

    [Fact]
    public async Task RateLimited_OneTokenBackWithinASecond_DetailSaysRetryAfterOneSecond()
    {
        // Arrange: 60/min refills a token a second, so the first refusal's wait rounds up to exactly one second
        var (key, _, _) = await Gateway.CreateKeyAsync("second@example.com", new PlanInput { Id = "per-second", Name = "Per second", RateLimitPerMinute = 60 });

        // Act
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 1000 && refused is null; i++)
        {
            var response = await SendAsync(key);
            refused = response.StatusCode == HttpStatusCode.TooManyRequests ? response : null;
        }

        // Assert
        Assert.NotNull(refused);
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        var detail = await AuthenticationTests.AssertErrorAsync(refused, HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
        Assert.Equal("Rate limit exceeded. Retry after 1 second.", detail);
    }

    [Fact]
    public async Task Quota_AtLimitMinusOneLimitAndPlusOne_Returns200Then402()
    {
        var (key, _, _) = await Gateway.CreateKeyAsync("quota@example.com", new PlanInput { Id = "three", Name = "Three", RequestsPerMonth = 3 });

        var responses = new List<HttpResponseMessage>();
        for (var i = 0; i < 4; i++)
        {
            responses.Add(await SendAsync(key));
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.PaymentRequired], responses.Select(r => r.StatusCode));
        Assert.Equal(["2", "1", "0", "0"], responses.Select(r => r.Headers.GetValues("X-Quota-Remaining").Single()));
        Assert.Equal(["1", "2", "3", "3"], responses.Select(r => r.Headers.GetValues("X-Quota-Used").Single()));
        Assert.All(responses, r => Assert.Equal("3", r.Headers.GetValues("X-Quota-Limit").Single()));
        var reset = DateTimeOffset.Parse(responses[0].Headers.GetValues("X-Quota-Reset").Single(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(1, reset.Day);
        await AuthenticationTests.AssertErrorAsync(responses[3], HttpStatusCode.PaymentRequired, "quota_exceeded");
        Assert.Equal(3, Upstream.Received.Count);
    }

    [Fact]
    public async Task OveragePlan_KeepsServingPastQuota_AndCountsOverage()
    {
        var (key, user, _) = await Gateway.CreateKeyAsync("overage@example.com", new PlanInput { Id = "metered", Name = "Metered", RequestsPerMonth = 2, OveragePrice = 1 });

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            statuses.Add((await SendAsync(key)).StatusCode);
        }

        await WaitForStoredEventsAsync(5); // quota units are stored with the usage events
        var stored = (await Gateway.Store.LoadQuotaUsageAsync(Core.Quotas.QuotaPeriod.StartOf(DateTimeOffset.UtcNow), CancellationToken.None)).Single(u => u.UserId == user.Id);
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(5, stored.Used);
        Assert.Equal(3, stored.Overage);
    }

    [Fact]
    public async Task RateLimitedRequest_DoesNotConsumeQuota()
    {
        var (key, user, _) = await Gateway.CreateKeyAsync("both@example.com", new PlanInput { Id = "tiny", Name = "Tiny", RateLimitPerMinute = 1, RequestsPerMonth = 100 });
        var counters = Gateway.Service<QuotaCounters>();

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 10; i++)
        {
            statuses.Add((await SendAsync(key)).StatusCode);
        }

        // 1/min + burst 5 = 6 admitted; the 4 refused by the rate limit are not billed.
        Assert.Equal(6, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(6, counters.Used(user.Id));
    }

    [Fact]
    public async Task ConcurrentRequests_BucketEmptyAndQuotaUsedUp_AllAnswer429NotQuotaExceeded()
    {
        // Arrange: 1/min + burst 5 = 6 tokens and a quota of 6: six requests empty both.
        var (key, user, _) = await Gateway.CreateKeyAsync("order@example.com", new PlanInput { Id = "six", Name = "Six", RateLimitPerMinute = 1, RequestsPerMonth = 6 });
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(key)).StatusCode);
        }

        // Act: a concurrent burst against an empty bucket.
        using var start = new ManualResetEventSlim();
        var tasks = Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            return await SendAsync(key);
        })).ToList();
        start.Set();
        var responses = await Task.WhenAll(tasks);

        // Assert: the rate limit decides first, so every one is 429 and none took (or was refused for) a quota unit.
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.TooManyRequests, r.StatusCode));
        await AuthenticationTests.AssertErrorAsync(responses[0], HttpStatusCode.TooManyRequests, "rate_limit_exceeded");
        Assert.Equal(6, Gateway.Service<QuotaCounters>().Used(user.Id));
        Assert.Equal(6, Upstream.Received.Count);
    }

    [Fact]
    public async Task ConcurrentRequests_TokensLeftButQuotaShort_RateLimitThenQuotaDecide()
    {
        // Arrange: 6 tokens, a quota of 3.
        var (key, user, _) = await Gateway.CreateKeyAsync("mixed@example.com", new PlanInput { Id = "three-six", Name = "ThreeSix", RateLimitPerMinute = 1, RequestsPerMonth = 3 });
        using var start = new ManualResetEventSlim();
        var tasks = Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            return await SendAsync(key);
        })).ToList();

        // Act
        start.Set();
        var statuses = (await Task.WhenAll(tasks)).Select(r => r.StatusCode).ToList();

        // Assert: 14 over the rate (429), of the 6 within it 3 fit the quota (200) and 3 do not (402).
        Assert.Equal(14, statuses.Count(s => s == HttpStatusCode.TooManyRequests));
        Assert.Equal(3, statuses.Count(s => s == HttpStatusCode.OK));
        Assert.Equal(3, statuses.Count(s => s == HttpStatusCode.PaymentRequired));
        Assert.Equal(3, Gateway.Service<QuotaCounters>().Used(user.Id));
    }

    [Fact]
    public async Task QuotaCounters_SurviveAGracefulRestart()
    {
        var (key, user, _) = await Gateway.CreateKeyAsync("restart@example.com", new PlanInput { Id = "ten", Name = "Ten", RequestsPerMonth = 10 });
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(key)).StatusCode);
        }

        await Gateway.StopAsync(); // graceful: flushes the counters
        await using var restarted = await TestGateway.StartAsync(directory: Gateway.Directory);
        using var request = new HttpRequestMessage(HttpMethod.Get, restarted.Url + "/private/x");
        request.Headers.Add("X-API-Key", key);
        var response = await restarted.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("5", response.Headers.GetValues("X-Quota-Used").Single());
        Assert.Equal(5, restarted.Service<QuotaCounters>().Used(user.Id));
    }

    [Fact]
    public async Task PlanChange_AppliesOnNextRequest()
    {
        var (key, user, _) = await Gateway.CreateKeyAsync("upgrade@example.com", new PlanInput { Id = "small", Name = "Small", RequestsPerMonth = 1 });
        await Gateway.Plans.CreateAsync(new PlanInput { Id = "big", Name = "Big", RequestsPerMonth = 100 }, CancellationToken.None);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(key)).StatusCode);
        Assert.Equal(HttpStatusCode.PaymentRequired, (await SendAsync(key)).StatusCode);

        await Gateway.Users.UpdateAsync(user.Email, new UserChanges { Plan = "big" }, CancellationToken.None);
        await Gateway.ReloadAsync();
        var response = await SendAsync(key);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("100", response.Headers.GetValues("X-Quota-Limit").Single());
        Assert.Equal("big", Upstream.Received.Last().Headers["X-Plan-ID"].Single());
    }

    [Fact]
    public async Task QuotaLoweredBelowWhatWasUsed_Refuses402WithTheUnitsUsed_AndAnotherPlanKeepsCountingTheMonth()
    {
        // Arrange: 5 units used on a 10-unit plan
        var (key, user, _) = await Gateway.CreateKeyAsync("lowered@example.com", new PlanInput { Id = "ten", Name = "Ten", RequestsPerMonth = 10 });
        await Gateway.Plans.CreateAsync(new PlanInput { Id = "seven", Name = "Seven", RequestsPerMonth = 7 }, CancellationToken.None);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await SendAsync(key)).StatusCode);
        }

        // Act: the plan's quota lowered to 3, then the user moved to a 7-unit plan
        Assert.True((await Gateway.Plans.UpdateAsync("ten", new PlanInput { RequestsPerMonth = 3 }, CancellationToken.None)).Ok);
        await Gateway.ReloadAsync();
        var lowered = await SendAsync(key);
        Assert.True((await Gateway.Users.UpdateAsync(user.Email, new UserChanges { Plan = "seven" }, CancellationToken.None)).Ok);
        await Gateway.ReloadAsync();
        var moved = new[] { await SendAsync(key), await SendAsync(key), await SendAsync(key) };

        // Assert: the month's units stay with the user, whatever the plan; the quota is checked against them
        await AuthenticationTests.AssertErrorAsync(lowered, HttpStatusCode.PaymentRequired, "quota_exceeded");
        Assert.Equal(("3", "5", "0"), (lowered.Headers.GetValues("X-Quota-Limit").Single(), lowered.Headers.GetValues("X-Quota-Used").Single(),
            lowered.Headers.GetValues("X-Quota-Remaining").Single()));
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.PaymentRequired], moved.Select(r => r.StatusCode));
        Assert.Equal(["6", "7", "7"], moved.Select(r => r.Headers.GetValues("X-Quota-Used").Single()));
        Assert.Equal(7, Upstream.Received.Count);
    }

    [Fact]
    public async Task LargestRateLimitAPlanTakes_AdmitsRequests_WithTheRatePlusBurstAsLimit()
    {
        // Arrange: 2,147,483,647/min is accepted by the CLI and the admin API ("as good as unlimited")
        var (key, _, _) = await Gateway.CreateKeyAsync("huge-rate@example.com", new PlanInput { Id = "huge-rate", Name = "Huge rate", RateLimitPerMinute = int.MaxValue });

        // Act
        var first = await SendAsync(key);
        var second = await SendAsync(key);

        // Assert: rate plus the burst of 5, not a capacity wrapped round to a negative number that refuses everything
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK], [first.StatusCode, second.StatusCode]);
        Assert.Equal("2147483652", first.Headers.GetValues("X-RateLimit-Limit").Single());
        Assert.Equal("2147483651", first.Headers.GetValues("X-RateLimit-Remaining").Single());
        Assert.Equal(2, Upstream.Received.Count);
    }

    private Task<HttpResponseMessage> SendAsync(string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/private/x");
        request.Headers.Add("Authorization", "Bearer " + key);
        return Gateway.Client.SendAsync(request);
    }

    /// <summary>Waits (bounded) until the usage recorder has stored <paramref name="count"/> events.</summary>
    private async Task WaitForStoredEventsAsync(long count)
    {
        var recorder = Gateway.Service<ApiGate.Gateway.Usage.UsageRecorder>();
        for (var i = 0; i < 400 && recorder.Written < count; i++)
        {
            await Task.Delay(25);
        }

        Assert.Equal(count, recorder.Written);
    }
}
