using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using static ApiGate.Gateway.Tests.Storage.ConcurrentUpdateTests;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// A JWT subject acts as one user: an issuer spelled with and without its trailing slash is one issuer, so a link of the
/// subject under the other spelling made at the same time as this one is a conflict, never a second user for it.
/// </summary>
public sealed class ConcurrentIdentityLinkTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task LinkIdentity_OtherIssuerSpellingLinkedToAnotherUserMeanwhile_ConflictAndOneUser(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var other = new UserService(store, TimeProvider.System);
        var ada = (await other.CreateAsync(new UserChanges { Email = "ada@example.com" }, None)).Value!;
        var bob = (await other.CreateAsync(new UserChanges { Email = "bob@example.com" }, None)).Value!;
        var users = new UserService(InterferingStore.Wrap(store, "LinkIdentityAsync", async _ =>
            Assert.True((await other.LinkIdentityAsync("bob@example.com", new IdentityLink("https://issuer.example/", "sub-1"), None)).Ok)), TimeProvider.System);

        // Act
        var result = await users.LinkIdentityAsync("ada@example.com", new IdentityLink("https://issuer.example", "sub-1"), None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "subject"), (result.Error?.Kind, result.Error?.Field));
        Assert.Empty(await store.ListIdentitiesAsync(ada.Id, None));
        Assert.Equal(bob.Id, (await store.FindUserByIdentityAsync("https://issuer.example", "sub-1", None))?.Id);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task LinkIdentity_SubjectLinkedToAnotherUserMeanwhile_ConflictNamingThatUserAsWhenLinkedBefore(string engine)
    {
        // Arrange: bob linked to the subject after ada's link looked for one
        var store = (await engines.CreateAsync(engine)).Store;
        var other = new UserService(store, TimeProvider.System);
        var ada = (await other.CreateAsync(new UserChanges { Email = "ada@example.com" }, None)).Value!;
        var bob = (await other.CreateAsync(new UserChanges { Email = "bob@example.com" }, None)).Value!;
        var users = new UserService(InterferingStore.Wrap(store, "LinkIdentityAsync", async _ =>
            Assert.True((await other.LinkIdentityAsync("bob@example.com", new IdentityLink("https://issuer.example", "sub-1"), None)).Ok)), TimeProvider.System);

        // Act
        var result = await users.LinkIdentityAsync("ada@example.com", new IdentityLink("https://issuer.example", "sub-1"), None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "subject"), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal($"this subject of https://issuer.example is linked to user bob@example.com ({bob.Id}); unlink it there first", result.Error!.Message);
        Assert.Empty(await store.ListIdentitiesAsync(ada.Id, None));
    }
}
