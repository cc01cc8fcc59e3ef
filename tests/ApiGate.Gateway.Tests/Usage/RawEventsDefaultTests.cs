using System.Net;
using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Usage;

/// <summary>
/// With the default <c>APIGATE_USAGE_RAW_EVENTS=callers</c>, a key holder's requests get raw rows and a public route's
/// requests do not, while the rollups count both.
/// </summary>
public sealed class RawEventsDefaultTests : GatewayTestBase
{
    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "open", Path = "/open/*", Upstream = "backend", AuthRequired = false }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "keyed", Path = "/keyed/*", Upstream = "backend", AuthRequired = true });
    }

    [Fact]
    public async Task PublicAndKeyedRequests_RawRowsForTheKeyHolderOnly_RollupsCountEvery()
    {
        // Arrange
        var (key, user, _) = await Gateway.CreateKeyAsync("raw@example.com");
        var started = DateTimeOffset.UtcNow.AddMinutes(-1);

        // Act
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + "/open/" + i)).StatusCode);
        }

        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/keyed/" + i);
            request.Headers.Add("X-API-Key", key);
            Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.SendAsync(request)).StatusCode);
        }

        await Gateway.StopAsync(); // a graceful stop writes every queued event
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(Gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        var publicRows = await store.GetRecentUsageAsync(UsageEvent.Anonymous, 100, CancellationToken.None);
        var keyedRows = await store.GetRecentUsageAsync(user.Id, 100, CancellationToken.None);
        var until = DateTimeOffset.UtcNow.AddMinutes(1);
        // Each request once, whichever granularity holds it (the gateway's maintenance may have compacted an hour meanwhile)
        var publicRollups = await store.GetUserUsageRowsAsync(UsageEvent.Anonymous, started.AddDays(-2), until, CancellationToken.None);
        var keyedRollups = await store.GetUserUsageRowsAsync(user.Id, started.AddDays(-2), until, CancellationToken.None);

        // Assert
        Assert.Empty(publicRows);
        Assert.Equal(["/keyed/1", "/keyed/0"], keyedRows.Select(e => e.Path));
        Assert.Equal(3, publicRollups.Sum(r => r.Requests));
        Assert.Equal(2, keyedRollups.Sum(r => r.Requests));
    }
}
