using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Limits;

/// <summary>
/// <c>X-RateLimit-Reset</c> (Unix seconds when the bucket is full again) on a real gateway with a frozen clock that
/// stands inside a second, with the buckets in process and in Redis: never a second before the bucket is full.
/// </summary>
public sealed class RateLimitResetHeaderTests : IAsyncLifetime
{
    // Half a second into a second: one token short at 1 token/s, the bucket is full at 12:00:01.5.
    private static readonly DateTimeOffset InsideASecond = new(2026, 3, 15, 12, 0, 0, 500, TimeSpan.Zero);

    private readonly string _prefix = $"t{Guid.NewGuid():N}:";
    private TestUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await TestUpstream.StartAsync();

    public async Task DisposeAsync() => await _upstream.DisposeAsync();

    [Fact]
    public async Task OneTokenTakenHalfwayThroughASecond_InProcess_ResetIsTheFirstWholeSecondTheBucketIsFull() =>
        await AssertResetAfterOneRequestAsync(_ => { });

    [RedisFact]
    public async Task OneTokenTakenHalfwayThroughASecond_Redis_ResetIsTheFirstWholeSecondTheBucketIsFull()
    {
        var redis = await RedisServer.Shared;
        await AssertResetAfterOneRequestAsync(o => (o.RedisUrl, o.RedisPrefix) = (redis.Url(), _prefix));
    }

    private async Task AssertResetAfterOneRequestAsync(Action<GatewayOptions> configure)
    {
        // Arrange: 60 requests/minute, no burst: capacity 60, refilled at 1 token/s
        var clock = new FakeTimeProvider(InsideASecond);
        await using var gateway = await TestGateway.StartAsync(o =>
        {
            o.RateLimitBurst = 0;
            configure(o);
        }, timeProvider: clock);
        await gateway.AddUpstreamAsync("backend", _upstream.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "api", Path = "/api/*", Upstream = "backend", AuthRequired = true });
        var (key, _, _) = await gateway.CreateKeyAsync("reset@example.com", new PlanInput { Id = "sixty", Name = "Sixty", RateLimitPerMinute = 60 });

        // Act
        var request = new HttpRequestMessage(HttpMethod.Get, gateway.Url + "/api/x");
        request.Headers.Add("X-API-Key", key);
        var response = await gateway.Client.SendAsync(request);

        // Assert: full at 12:00:01.5, so the first whole second at which it is full is 12:00:02 (not 12:00:01)
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("59", response.Headers.GetValues("X-RateLimit-Remaining").Single());
        Assert.Equal(
            new DateTimeOffset(2026, 3, 15, 12, 0, 2, TimeSpan.Zero).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture),
            response.Headers.GetValues("X-RateLimit-Reset").Single());
    }
}
