using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Auth;

/// <summary>What JWT support keeps in the store (migration 11), on every engine: identity links and a route's auth scheme.</summary>
public sealed class JwtStoreTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task LinkIdentity_FindThenLinkAgainThenDeleteUser_FoundConflictGone(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var users = new UserService(store, TimeProvider.System);
        var user = (await users.CreateAsync(new UserChanges { Email = "linked@example.com" }, None)).Value!;
        var other = (await users.CreateAsync(new UserChanges { Email = "other@example.com" }, None)).Value!;

        // Act
        await store.LinkIdentityAsync("https://issuer.example.com", "sub-1", user.Id, DateTimeOffset.UtcNow, None);
        var found = await store.FindUserByIdentityAsync("https://issuer.example.com", "sub-1", None);
        var otherIssuer = await store.FindUserByIdentityAsync("https://other.example.com", "sub-1", None);
        var second = await Assert.ThrowsAsync<StoreConflictException>(() =>
            store.LinkIdentityAsync("https://issuer.example.com", "sub-1", other.Id, DateTimeOffset.UtcNow, None));
        await users.DeleteAsync(user.Id, None);
        var afterDelete = await store.FindUserByIdentityAsync("https://issuer.example.com", "sub-1", None);

        // Assert
        Assert.Equal(user.Id, found!.Id);
        Assert.Null(otherIssuer);
        Assert.Equal("subject", second.Field);
        Assert.Null(afterDelete);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateUpdateRoute_AuthScheme_RoundTrips(string engine)
    {
        var store = (await engines.CreateAsync(engine)).Store;
        var routes = new RouteService(store, TimeProvider.System);

        await routes.CreateAsync(new RouteInput { Name = "tokens", Path = "/t/*", AuthScheme = "jwt" }.Parsed(), None);
        var created = (await store.LoadConfigAsync(None)).Routes.Single();
        await routes.UpdateAsync("tokens", new RouteInput { AuthScheme = "key-or-jwt" }.Parsed(), None);
        var updated = await store.FindRouteAsync("tokens", None);
        await routes.UpdateAsync("tokens", new RouteInput { AuthScheme = "key" }.Parsed(), None);
        var reset = (await store.ListRoutesAsync(None)).Single();

        Assert.Equal(Core.Routing.AuthScheme.Jwt, created.AuthScheme);
        Assert.Equal(Core.Routing.AuthScheme.KeyOrJwt, updated!.AuthScheme);
        Assert.Equal(Core.Routing.AuthScheme.Key, reset.AuthScheme);
    }

    [Fact]
    public void RouteInput_UnknownAuthScheme_ErrorNamesTheField()
    {
        var changes = new RouteInput { AuthScheme = "oauth" }.ToChanges();

        Assert.Equal("auth_scheme", changes.Error?.Field);
    }
}
