using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// The console's and portal's sessions and their forms key in the store, on every engine: what several instances
/// behind one load balancer share instead of each keeping its own.
/// </summary>
public sealed class WebSessionStoreTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 9, 0, 0, TimeSpan.Zero);

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateWebSession_ThenFind_RoundTripsEveryField(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var session = new WebSession("A1B2", WebSessionKind.Portal, "usr_1", "FINGERPRINT", T0, T0.AddSeconds(5));

        // Act
        await store.CreateWebSessionAsync(session, 20, None);
        var found = await store.FindWebSessionAsync("A1B2", None);
        var missing = await store.FindWebSessionAsync("a1b2", None);

        // Assert
        Assert.Equal(session, found);
        Assert.Null(missing); // ids are compared exactly
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task TouchWebSession_EarlierThanStored_KeepsTheLaterTime(string engine)
    {
        // Arrange: two instances touch the same session, the later one's write arriving first.
        var store = (await engines.CreateAsync(engine)).Store;
        await store.CreateWebSessionAsync(new WebSession("S", WebSessionKind.Admin, "adt_1", "", T0, T0), 20, None);

        // Act
        await store.TouchWebSessionAsync("S", T0.AddMinutes(10), None);
        await store.TouchWebSessionAsync("S", T0.AddMinutes(3), None);

        // Assert
        Assert.Equal(T0.AddMinutes(10), (await store.FindWebSessionAsync("S", None))!.LastSeenAt);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task DeleteWebSessionsIdleSince_MixedAgesAndKinds_RemovesOnlyIdleOfThatKind(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        await store.CreateWebSessionAsync(new WebSession("old-admin", WebSessionKind.Admin, "adt_1", "", T0, T0), 20, None);
        await store.CreateWebSessionAsync(new WebSession("new-admin", WebSessionKind.Admin, "adt_1", "", T0, T0.AddHours(2)), 20, None);
        await store.CreateWebSessionAsync(new WebSession("old-portal", WebSessionKind.Portal, "usr_1", "F", T0, T0), 20, None);

        // Act
        var removed = await store.DeleteWebSessionsIdleSinceAsync(WebSessionKind.Admin, T0.AddHours(1), None);

        // Assert
        Assert.Equal(1, removed);
        Assert.Null(await store.FindWebSessionAsync("old-admin", None));
        Assert.NotNull(await store.FindWebSessionAsync("new-admin", None));
        Assert.NotNull(await store.FindWebSessionAsync("old-portal", None));
        Assert.Equal(1, await store.CountWebSessionsAsync(WebSessionKind.Admin, T0.AddHours(1), None));
        Assert.Equal(1, await store.CountWebSessionsAsync(WebSessionKind.Portal, T0, None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task DeleteWebSession_Existing_GoneForEveryStoreOnTheSameDatabase(string engine)
    {
        // Arrange: a second store object on the same database stands in for a second instance.
        var first = await engines.CreateAsync(engine);
        await using var other = GatewayStores.Create(engine, first.Dsn, new SecretProtector(null));
        await other.InitializeAsync(None);
        await first.Store.CreateWebSessionAsync(new WebSession("S", WebSessionKind.Admin, "adt_1", "", T0, T0), 20, None);
        Assert.NotNull(await other.FindWebSessionAsync("S", None));

        // Act
        await first.Store.DeleteWebSessionAsync("S", None);

        // Assert
        Assert.Null(await other.FindWebSessionAsync("S", None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateWebSession_BeyondTheLimitForOneSubject_EndsTheLeastRecentlyUsedOfThatSubjectOnly(string engine)
    {
        // Arrange: four sessions of one user (the second used last), one of another user, one admin session
        var store = (await engines.CreateAsync(engine)).Store;
        for (var i = 0; i < 4; i++)
        {
            await store.CreateWebSessionAsync(new WebSession($"u1-{i}", WebSessionKind.Portal, "usr_1", "F", T0, T0.AddMinutes(i == 1 ? 10 : i)), 4, None);
        }

        await store.CreateWebSessionAsync(new WebSession("u2-0", WebSessionKind.Portal, "usr_2", "F", T0, T0), 4, None);
        await store.CreateWebSessionAsync(new WebSession("admin", WebSessionKind.Admin, "usr_1", "", T0, T0), 4, None);

        // Act: a fifth sign-in of usr_1, keeping three
        await store.CreateWebSessionAsync(new WebSession("u1-new", WebSessionKind.Portal, "usr_1", "F", T0, T0.AddMinutes(20)), 3, None);

        // Assert: the new one and the two used most recently before it stay
        string[] ids = ["u1-0", "u1-1", "u1-2", "u1-3", "u1-new", "u2-0", "admin"];
        var kept = new List<string>();
        foreach (var id in ids)
        {
            if (await store.FindWebSessionAsync(id, None) is not null)
            {
                kept.Add(id);
            }
        }

        Assert.Equal(["u1-1", "u1-3", "u1-new", "u2-0", "admin"], kept);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AdminAudit_AddListDelete_NewestFirstWithIncreasingIdsAndEveryField(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        for (var i = 0; i < 3; i++)
        {
            await store.AddAdminAuditAsync(new AdminAuditRecord(99, T0.AddDays(i), "PATCH", $"/admin/routes/r{i}", 200 + i, "adt_1", "ops", "127.0.0.1", $"Changed route r{i}."), None);
        }

        // Act
        var newest = await store.ListAdminAuditAsync(2, None);
        var removed = await store.DeleteAdminAuditBeforeAsync(T0.AddDays(1), None);
        var left = await store.ListAdminAuditAsync(10, None);

        // Assert: ids are the store's (the 99 given is ignored), newest first
        Assert.Equal(
            [new AdminAuditRecord(3, T0.AddDays(2), "PATCH", "/admin/routes/r2", 202, "adt_1", "ops", "127.0.0.1", "Changed route r2."),
             new AdminAuditRecord(2, T0.AddDays(1), "PATCH", "/admin/routes/r1", 201, "adt_1", "ops", "127.0.0.1", "Changed route r1.")],
            newest);
        Assert.Equal(1, removed);
        Assert.Equal([3L, 2L], left.Select(r => r.Id));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddWebKey_FourStoresAtOnce_AllReadTheOneKeyStoredFirst(string engine)
    {
        // Arrange
        var dsn = (await engines.CreateAsync(engine)).Dsn;
        var stores = Enumerable.Range(0, 4).Select(_ => GatewayStores.Create(engine, dsn, new SecretProtector(null))).ToList();
        await Task.WhenAll(stores.Select(s => s.InitializeAsync(None)));

        // Act
        await Task.WhenAll(stores.Select((s, i) => s.AddWebKeyAsync($"<key id=\"{i}\" />", T0, None)));
        var read = await Task.WhenAll(stores.Select(s => s.GetWebKeyAsync(None)));

        // Assert
        Assert.Single(read.Distinct());
        Assert.Matches("^<key id=\"[0-3]\" />$", read[0]);
        foreach (var store in stores)
        {
            await store.DisposeAsync();
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddWebKey_WithSecretKey_StoredEncryptedAndUnreadableWithoutIt(string engine)
    {
        // Arrange
        var dsn = (await engines.CreateAsync(engine)).Dsn;
        await using var keyed = GatewayStores.Create(engine, dsn, new SecretProtector("an operator secret"));
        await keyed.InitializeAsync(None);
        await using var unkeyed = GatewayStores.Create(engine, dsn, new SecretProtector(null));
        await unkeyed.InitializeAsync(None);

        // Act
        await keyed.AddWebKeyAsync("<key masterKey=\"SECRET-MATERIAL\" />", T0, None);
        var error = await Assert.ThrowsAsync<SecretUnreadableException>(() => unkeyed.GetWebKeyAsync(None));

        // Assert
        Assert.Equal("<key masterKey=\"SECRET-MATERIAL\" />", await keyed.GetWebKeyAsync(None));
        Assert.Contains("set APIGATE_SECRET_KEY", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("SECRET-MATERIAL", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FormKeyRepository_KeyFound_ReadFromTheStoreOnceThenKeptWhateverItIsAskedLater()
    {
        // Arrange: two instances' repositories on one store file; the other instance stores its key first.
        var dsn = (await engines.CreateAsync(GatewayStores.Sqlite)).Dsn;
        await using var mine = GatewayStores.Create(GatewayStores.Sqlite, dsn, new SecretProtector(null));
        await mine.InitializeAsync(None);
        await using var theirs = GatewayStores.Create(GatewayStores.Sqlite, dsn, new SecretProtector(null));
        await theirs.InitializeAsync(None);
        var repository = new ApiGate.Web.Shared.StoredFormKeyRepository(mine, TimeProvider.System);
        var before = repository.GetAllElements();
        await theirs.AddWebKeyAsync("<key id=\"theirs\" />", T0, None);

        // Act
        repository.StoreElement(System.Xml.Linq.XElement.Parse("<key id=\"mine\" />"), "mine");
        var afterStore = repository.GetAllElements();
        var readsOnceFound = repository.StoreReads;
        var later = Enumerable.Range(0, 5).Select(_ => repository.GetAllElements()).ToList();

        // Assert: nothing stored is read again each time; once found, the stored key (the first writer's) is kept.
        Assert.Empty(before);
        Assert.Equal(2, readsOnceFound);
        Assert.Equal("theirs", Assert.Single(afterStore).Attribute("id")?.Value);
        Assert.All(later, elements => Assert.Equal("theirs", Assert.Single(elements).Attribute("id")?.Value));
        Assert.Equal(2, repository.StoreReads);
    }
}
