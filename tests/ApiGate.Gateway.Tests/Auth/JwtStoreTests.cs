using ApiGate.Core.Identity;
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
        await store.LinkIdentityAsync(Identity("sub-1", user.Id), configuration: false, None);
        var found = await store.FindUserByIdentityAsync("https://issuer.example.com", "sub-1", None);
        var otherIssuer = await store.FindUserByIdentityAsync("https://other.example.com", "sub-1", None);
        var second = await Assert.ThrowsAsync<StoreConflictException>(() =>
            store.LinkIdentityAsync(Identity("sub-1", other.Id), configuration: false, None));
        await users.DeleteAsync(user.Id, None);
        var afterDelete = await store.FindUserByIdentityAsync("https://issuer.example.com", "sub-1", None);

        // Assert
        Assert.Equal(user.Id, found!.Id);
        Assert.Null(otherIssuer);
        Assert.Equal("subject", second.Field);
        Assert.Null(afterDelete);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task LinkAndUnlinkIdentity_ByTheOperator_ListedAndEachMovesTheConfigVersion(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var users = new UserService(store, TimeProvider.System);
        var user = (await users.CreateAsync(new UserChanges { Email = "linked@example.com" }, None)).Value!;
        var other = (await users.CreateAsync(new UserChanges { Email = "other@example.com" }, None)).Value!;
        var v0 = await store.GetConfigVersionAsync(None);

        // Act
        var linked = await users.LinkIdentityAsync(user.Email, new IdentityLink(Issuer, "sub-1"), None);
        var v1 = await store.GetConfigVersionAsync(None);
        var listed = (await users.ListIdentitiesAsync(user.Id, None)).Value!;
        var again = await users.LinkIdentityAsync(user.Id, new IdentityLink(Issuer, "sub-1"), None);
        var taken = await users.LinkIdentityAsync(other.Id, new IdentityLink(Issuer, "sub-1"), None);
        var wrongUser = await users.UnlinkIdentityAsync(other.Id, new IdentityLink(Issuer, "sub-1"), None);
        var unlinked = await users.UnlinkIdentityAsync(user.Id, new IdentityLink(Issuer, "sub-1"), None);
        var v2 = await store.GetConfigVersionAsync(None);
        var unlinkedAgain = await users.UnlinkIdentityAsync(user.Id, new IdentityLink(Issuer, "sub-1"), None);

        // Assert: each operator change is a configuration change, so every instance drops what it remembered about the
        // subject (a refusal included)
        Assert.True(linked.Ok, linked.Error?.Message);
        Assert.True(v1 > v0);
        var identity = Assert.Single(listed);
        Assert.Equal((Issuer, "sub-1", user.Id), (identity.Issuer, identity.Subject, identity.UserId));
        Assert.Equal((ManagementErrorKind.Conflict, "subject"), (again.Error!.Kind, again.Error.Field));
        Assert.Contains("this user already", again.Error.Message);
        Assert.Equal(ManagementErrorKind.Conflict, taken.Error!.Kind);
        Assert.Contains("linked@example.com", taken.Error.Message); // names the user to unlink it from
        Assert.Equal(ManagementErrorKind.NotFound, wrongUser.Error!.Kind);
        Assert.True(unlinked.Ok, unlinked.Error?.Message);
        Assert.True(v2 > v1);
        Assert.Null(await store.FindUserByIdentityAsync(Issuer, "sub-1", None));
        Assert.Equal(ManagementErrorKind.NotFound, unlinkedAgain.Error!.Kind);
        Assert.Empty((await users.ListIdentitiesAsync(user.Id, None)).Value!);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task LinkIdentity_IssuerSpelledWithATrailingSlash_FoundUnderEitherSpellingAndNotLinkedTwice(string engine)
    {
        // Arrange: linked by a CLI that did not see the gateway's jwt.issuer, typed with a trailing slash
        var store = (await engines.CreateAsync(engine)).Store;
        var users = new UserService(store, TimeProvider.System);
        var user = (await users.CreateAsync(new UserChanges { Email = "linked@example.com" }, None)).Value!;
        var other = (await users.CreateAsync(new UserChanges { Email = "other@example.com" }, None)).Value!;
        Assert.True((await users.LinkIdentityAsync(user.Id, new IdentityLink(Issuer + "/", "sub-1"), None)).Ok);

        // Act
        var found = await store.FindUserByIdentityAsync(Issuer, "sub-1", None);
        var asStored = await store.FindUserByIdentityAsync(Issuer + "/", "sub-1", None);
        var otherHost = await store.FindUserByIdentityAsync("https://issuer.example.org", "sub-1", None);
        var second = await users.LinkIdentityAsync(other.Id, new IdentityLink(Issuer, "sub-1"), None);
        var unlinked = await users.UnlinkIdentityAsync(user.Id, new IdentityLink(Issuer, "sub-1"), None);

        // Assert: the gateway (jwt.issuer without the slash) finds the link; the other spelling is the same identity
        Assert.Equal(user.Id, found?.Id);
        Assert.Equal(user.Id, asStored?.Id);
        Assert.Null(otherHost);
        Assert.Equal(ManagementErrorKind.Conflict, second.Error?.Kind);
        Assert.True(unlinked.Ok, unlinked.Error?.Message);
        Assert.Null(await store.FindUserByIdentityAsync(Issuer, "sub-1", None));
    }

    private const string Issuer = "https://issuer.example.com";

    private static UserIdentity Identity(string subject, string userId) =>
        new() { Issuer = Issuer, Subject = subject, UserId = userId, CreatedAt = DateTimeOffset.UtcNow };

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
