using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// Updates of different fields of one route or upstream sent at the same time all land: an update whose row changed
/// between its read and its write is applied again to the new row instead of overwriting it with the old copy.
/// </summary>
public sealed class ConcurrentUpdateTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const int Rounds = 10;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RouteUpdates_ThreeFieldsAtOnce_EveryChangeKept(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var upstreams = new UpstreamService(store, TimeProvider.System);
        var routes = new RouteService(store, TimeProvider.System);
        Assert.True((await upstreams.CreateAsync(new UpstreamChanges { Name = "backend", Url = new Uri("http://127.0.0.1:1") }, CancellationToken.None)).Ok);
        Assert.True((await routes.CreateAsync(new RouteChanges { Name = "users", Path = "/users/*", Upstream = "backend" }, CancellationToken.None)).Ok);

        for (var round = 1; round <= Rounds; round++)
        {
            // Act
            var results = await Task.WhenAll(
                Task.Run(() => routes.UpdateAsync("users", new RouteChanges { Description = $"d{round}" }, CancellationToken.None)),
                Task.Run(() => routes.UpdateAsync("users", new RouteChanges { Priority = round }, CancellationToken.None)),
                Task.Run(() => routes.UpdateAsync("users", new RouteChanges { PathRewrite = $"/v{round}/$1" }, CancellationToken.None)));

            // Assert
            Assert.All(results, r => Assert.True(r.Ok, r.Error?.ToString()));
            var route = (await store.FindRouteAsync("users", CancellationToken.None))!;
            Assert.Equal(($"d{round}", round, $"/v{round}/$1"), (route.Description, route.Priority, route.PathRewrite));
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpstreamUpdates_TwoFieldsAtOnce_EveryChangeKept(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var upstreams = new UpstreamService(store, TimeProvider.System);
        Assert.True((await upstreams.CreateAsync(new UpstreamChanges { Name = "backend", Url = new Uri("http://127.0.0.1:1") }, CancellationToken.None)).Ok);

        for (var round = 1; round <= Rounds; round++)
        {
            // Act
            var results = await Task.WhenAll(
                Task.Run(() => upstreams.UpdateAsync("backend", new UpstreamChanges { Description = $"d{round}" }, CancellationToken.None)),
                Task.Run(() => upstreams.UpdateAsync("backend", new UpstreamChanges { MaxConns = round }, CancellationToken.None)));

            // Assert
            Assert.All(results, r => Assert.True(r.Ok, r.Error?.ToString()));
            var upstream = (await store.FindUpstreamAsync("backend", CancellationToken.None))!;
            Assert.Equal(($"d{round}", round), (upstream.Description, upstream.MaxConns));
        }
    }
}
