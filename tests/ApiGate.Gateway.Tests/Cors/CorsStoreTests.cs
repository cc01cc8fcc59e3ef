using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Cors;

/// <summary>A route's CORS settings in the store (table <c>route_cors</c>, migration 11), on every engine.</summary>
public sealed class CorsStoreTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateUpdateDeleteRoute_CorsSettings_RoundTripThroughLoadFindAndList(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var routes = new RouteService(store, TimeProvider.System);
        var created = await routes.CreateAsync(new RouteInput
        {
            Name = "web", Path = "/web/*", CorsOrigins = "https://app.example.com, *.example.org", CorsMethods = "GET,POST", CorsHeaders = "X-API-Key",
            CorsExposeHeaders = "X-Request-ID", CorsCredentials = true, CorsMaxAge = 90,
        }.Parsed(), None);
        Assert.True(created.Ok, created.Error?.ToString());
        await routes.CreateAsync(new RouteInput { Name = "plain", Path = "/plain/*" }.Parsed(), None);

        // Act
        var loaded = (await store.LoadConfigAsync(None)).Routes.Single(r => r.Slug == "web");
        var found = await store.FindRouteAsync("web", None);
        var foundById = await store.FindRouteAsync(created.Value!.Id, None);
        var plain = (await store.ListRoutesAsync(None)).Single(r => r.Slug == "plain");
        var updated = await routes.UpdateAsync("web", new RouteInput { CorsMaxAge = 0, CorsCredentials = false }.Parsed(), None);
        var afterUpdate = await store.FindRouteAsync("web", None);
        var cleared = await routes.UpdateAsync("web", new RouteInput { CorsOrigins = "" }.Parsed(), None);
        var afterClear = await store.FindRouteAsync("web", None);
        await routes.UpdateAsync("web", new RouteInput { CorsOrigins = "https://again.example.com" }.Parsed(), None);
        var deleted = await routes.DeleteAsync("web", None);
        await routes.CreateAsync(new RouteInput { Name = "web", Path = "/web/*" }.Parsed(), None);
        var recreated = await store.FindRouteAsync("web", None);

        // Assert
        foreach (var route in new[] { loaded, found!, foundById! })
        {
            Assert.Equal(["https://app.example.com", "https://*.example.org"], route.CorsOrigins);
            Assert.Equal(["GET", "POST"], route.CorsMethods);
            Assert.Equal(["X-API-Key"], route.CorsHeaders);
            Assert.Equal(["X-Request-ID"], route.CorsExposeHeaders);
            Assert.True(route.CorsCredentials);
            Assert.Equal(90, route.CorsMaxAge);
        }

        Assert.Empty(plain.CorsOrigins);
        Assert.True(updated.Ok, updated.Error?.ToString());
        Assert.Equal((false, 0, 2), (afterUpdate!.CorsCredentials, afterUpdate.CorsMaxAge, afterUpdate.CorsOrigins.Count));
        Assert.True(cleared.Ok, cleared.Error?.ToString());
        Assert.Equal((0, 0), (afterClear!.CorsOrigins.Count, afterClear.CorsMethods.Count));
        Assert.True(deleted.Ok, deleted.Error?.ToString());
        Assert.Empty(recreated!.CorsOrigins); // the deleted route's CORS row went with it
    }
}
