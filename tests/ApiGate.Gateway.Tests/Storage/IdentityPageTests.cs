using ApiGate.Core.Management;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// Users and keys are listed a page at a time in SQL (the admin API and the console hold only the page, however many
/// rows the store has), and a user is found by email through the engine's email index.
/// </summary>
public sealed class IdentityPageTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ListUsersPageAsync_PagesOfTwoOverFiveUsers_EqualSlicesOfTheListByEmailAndCountAll(string engine)
    {
        // Arrange: created out of email order
        var store = (await engines.CreateAsync(engine)).Store;
        var users = new UserService(store, TimeProvider.System);
        foreach (var email in new[] { "d@example.com", "b@example.com", "e@example.com", "a@example.com", "c@example.com" })
        {
            Assert.True((await users.CreateAsync(new UserChanges { Email = email }, None)).Ok);
        }

        // Act
        var pages = new List<StorePage<Core.Identity.UserDefinition>>();
        for (var offset = 0; offset <= 6; offset += 2)
        {
            pages.Add(await store.ListUsersPageAsync(null, offset, null, 2, None));
        }

        // Assert
        Assert.Equal(
            [["a@example.com", "b@example.com"], ["c@example.com", "d@example.com"], ["e@example.com"], []],
            pages.Select(p => p.Items.Select(u => u.Email).ToList()));
        Assert.All(pages, p => Assert.Equal(5, p.Total));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ListUsersPageAsync_EmailContains_MatchesIgnoringCaseAndTakesWildcardsLiterally(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var users = new UserService(store, TimeProvider.System);
        foreach (var email in new[] { "Ann_Lee@example.com", "annxlee@example.com", "bob@example.com", "ann-lee@example.com" })
        {
            Assert.True((await users.CreateAsync(new UserChanges { Email = email }, None)).Ok);
        }

        // Act
        var underscore = await store.ListUsersPageAsync("ANN_lee", 0, null, 10, None);
        var percent = await store.ListUsersPageAsync("n%l", 0, null, 10, None);
        var all = await store.ListUsersPageAsync("@EXAMPLE", 0, null, 10, None);
        var secondOfTwo = await store.ListUsersPageAsync("lee@", 1, null, 1, None);

        // Assert
        Assert.Equal(["Ann_Lee@example.com"], underscore.Items.Select(u => u.Email));
        Assert.Equal(1, underscore.Total);
        Assert.Equal((0, 0), (percent.Items.Count, percent.Total));
        Assert.Equal(4, all.Total);
        Assert.Equal(3, secondOfTwo.Total);
        Assert.Single(secondOfTwo.Items);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ListUsersPageAsync_EmailContainsWithNonAsciiLetters_AsciiCaseIgnoredOtherLettersAsStoredAlikeOnEveryEngine(string engine)
    {
        // Arrange: two addresses stored before such spellings were refused or lower-cased (written with the raw store API,
        // which does not check spellings), and two stored as they are today
        var store = (await engines.CreateAsync(engine)).Store;
        var users = new UserService(store, TimeProvider.System);
        foreach (var (built, stored) in new[]
        {
            ("dotted@example.com", "AL\u0130CE@example.com"), ("legacy@example.com", "\u00C9lodie@example.com"),
            ("alice.b@example.com", "alice.b@example.com"), ("\u00E9lodie.b@example.com", "\u00E9lodie.b@example.com"),
        })
        {
            var user = await users.BuildNewAsync(new UserChanges { Email = built }, None);
            Assert.True(user.Ok, user.Error?.ToString());
            await store.CreateUserAsync(user.Value! with { Email = stored }, None);
        }

        async Task<List<string>> SearchAsync(string text) => (await store.ListUsersPageAsync(text, 0, null, 10, None)).Items.Select(u => u.Email).ToList();

        // Act
        var dottedAsStored = await SearchAsync("AL\u0130CE");
        var dottedOtherAsciiCase = await SearchAsync("al\u0130ce@EXAMPLE");
        var plainI = await SearchAsync("ALICE");
        var capitalE = await SearchAsync("\u00C9LODIE");
        var smallE = await SearchAsync("\u00E9lodie");

        // Assert: ASCII letters in any case; a dotted capital I only as itself; a non-ASCII capital as typed or lower-cased
        // as addresses are stored today, a lower-case one only as itself — on SQLite and PostgreSQL alike
        Assert.Equal(["AL\u0130CE@example.com"], dottedAsStored);
        Assert.Equal(["AL\u0130CE@example.com"], dottedOtherAsciiCase);
        Assert.Equal(["alice.b@example.com"], plainI);
        Assert.Equal(["\u00C9lodie@example.com", "\u00E9lodie.b@example.com"], capitalE.Order(StringComparer.Ordinal));
        Assert.Equal(["\u00E9lodie.b@example.com"], smallE);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ListKeysPageAsync_PagesOfTwoOverFiveKeys_NewestFirstAndOnlyTheUsersWhenGiven(string engine)
    {
        // Arrange: five keys of ann, then one of bob, a second apart
        var store = (await engines.CreateAsync(engine)).Store;
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero));
        var users = new UserService(store, clock);
        var keys = new KeyService(store, clock);
        var ann = (await users.CreateAsync(new UserChanges { Email = "ann@example.com" }, None)).Value!;
        Assert.True((await users.CreateAsync(new UserChanges { Email = "bob@example.com" }, None)).Ok);
        for (var i = 0; i < 5; i++)
        {
            Assert.True((await keys.CreateAsync(new KeyChanges { User = ann.Email, Name = $"k{i}" }, None)).Ok);
            clock.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.True((await keys.CreateAsync(new KeyChanges { User = "bob@example.com", Name = "bob" }, None)).Ok);
        var annsNewestFirst = (await store.ListKeysAsync(ann.Id, None)).Select(k => k.Name).ToList();

        // Act
        var pages = new List<StorePage<Core.Identity.ApiKeyDefinition>>();
        for (var offset = 0; offset <= 6; offset += 2)
        {
            pages.Add(await store.ListKeysPageAsync(ann.Id, offset, null, 2, None));
        }

        var everyone = await store.ListKeysPageAsync(null, 0, null, 2, None);

        // Assert
        Assert.Equal(["k4", "k3", "k2", "k1", "k0"], annsNewestFirst);
        Assert.Equal([["k4", "k3"], ["k2", "k1"], ["k0"], []], pages.Select(p => p.Items.Select(k => k.Name).ToList()));
        Assert.All(pages, p => Assert.Equal(5, p.Total));
        Assert.Equal(["bob", "k4"], everyone.Items.Select(k => k.Name));
        Assert.Equal(6, everyone.Total);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ListUsersPageAsync_ByCursorWhileUsersAreAddedAndDeleted_EveryUserOnceInEmailOrder(string engine)
    {
        // Arrange: mixed case, so each engine's own ordering of emails is what the cursor must follow
        var store = (await engines.CreateAsync(engine)).Store;
        var users = new UserService(store, TimeProvider.System);
        foreach (var email in new[] { "d@example.com", "B@example.com", "e@example.com", "a@example.com", "C@example.com", "f@example.com" })
        {
            Assert.True((await users.CreateAsync(new UserChanges { Email = email }, None)).Ok);
        }

        var inOrder = (await store.ListUsersPageAsync(null, 0, null, 10, None)).Items.Select(u => u.Email).ToList();

        // Act: each page's users deleted, and a user added before the cursor, before the next page is read
        var seen = new List<string>();
        var pages = 0;
        ListCursor? after = null;
        do
        {
            var page = await store.ListUsersPageAsync(null, 0, after, 2, None);
            pages++;
            foreach (var user in page.Items)
            {
                seen.Add(user.Email);
                Assert.True((await users.DeleteAsync(user.Id, null, None)).Ok);
            }

            Assert.True((await users.CreateAsync(new UserChanges { Email = $"{pages}@{pages}.example.com" }, None)).Ok);
            after = page.Next;
        }
        while (after is not null && pages < 10);

        // Assert
        Assert.Equal(inOrder, seen);
        Assert.Equal(3, pages);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ListKeysPageAsync_ByCursorOverKeysCreatedInOneInstant_EveryKeyOnceAsTheListOrdersThem(string engine)
    {
        // Arrange: five keys with the same creation time, so only their ids tell the cursor where it stopped
        var store = (await engines.CreateAsync(engine)).Store;
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 5, 10, 0, 0, 0, TimeSpan.Zero));
        var ann = (await new UserService(store, clock).CreateAsync(new UserChanges { Email = "ann@example.com" }, None)).Value!;
        var keys = new KeyService(store, clock);
        for (var i = 0; i < 5; i++)
        {
            Assert.True((await keys.CreateAsync(new KeyChanges { User = ann.Email, Name = $"k{i}" }, None)).Ok);
        }

        var listed = (await store.ListKeysAsync(ann.Id, None)).Select(k => k.Id).ToList();

        // Act
        var seen = new List<string>();
        var totals = new List<int>();
        ListCursor? after = null;
        for (var page = 0; page < 10; page++)
        {
            var found = await store.ListKeysPageAsync(ann.Id, 0, after, 2, None);
            seen.AddRange(found.Items.Select(k => k.Id));
            totals.Add(found.Total);
            if ((after = found.Next) is null)
            {
                break;
            }
        }

        // Assert
        Assert.Equal(listed, seen);
        Assert.Equal([5, 5, 5], totals);
    }

    [Fact]
    public async Task ListKeysPageAsync_ByCursorOnSqlite_SeeksTheCreationIndexToTheCursorWithoutSorting()
    {
        // Arrange: the store's key list query after a cursor, as the admin API pages it
        var created = await engines.CreateAsync(GatewayStores.Sqlite);
        var query = "SELECT * FROM api_keys WHERE (created_at <= '2026' AND (created_at < '2026' OR id > 'k')) " +
            "ORDER BY created_at DESC, id LIMIT 3";

        // Act
        var plan = await QueryPlanAsync(created.Dsn, query);

        // Assert: a search of the index from the cursor on, no temporary sort
        Assert.Equal(["SEARCH api_keys USING INDEX api_keys_created (created_at<?)"], plan);
    }

    [Fact]
    public async Task FindUserAsync_ByEmailOnSqlite_SearchesTheEmailIndexInsteadOfScanningUsers()
    {
        // Arrange
        var created = await engines.CreateAsync(GatewayStores.Sqlite);
        var query = $"SELECT id FROM users {created.Store.EmailIsRef}";

        // Act
        var plan = await QueryPlanAsync(created.Dsn, query, ("@Ref", "Ada@example.com"));

        // Assert: a search of the unique email index by the email, not a scan of every user
        var step = Assert.Single(plan);
        Assert.StartsWith("SEARCH users USING ", step, StringComparison.Ordinal);
        Assert.EndsWith("(email=?)", step, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ListKeysPageAsync_OnSqlite_ReadsThePageThroughTheCreationIndexWithoutSortingEveryKey()
    {
        // Arrange: the store's key list query (newest first, then by id), as the console and the admin API page it
        var created = await engines.CreateAsync(GatewayStores.Sqlite);
        var query = "SELECT * FROM api_keys ORDER BY created_at DESC, id LIMIT 2 OFFSET 4";

        // Act
        var plan = await QueryPlanAsync(created.Dsn, query);

        // Assert: one scan of the index in its order, no temporary sort of every key
        Assert.Equal(["SCAN api_keys USING INDEX api_keys_created"], plan);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ListUsersNearQuotaAsync_SharesAroundTheLine_OnlyThoseAtOrPastItLargestFirstAtMostCount(string engine)
    {
        // Arrange: a 1,000-unit plan and a plan without a quota; use this month and last month
        var store = (await engines.CreateAsync(engine)).Store;
        Assert.True((await new PlanService(store, TimeProvider.System).CreateAsync(new PlanInput { Id = "k", Name = "K", RequestsPerMonth = 1000 }, None)).Ok);
        Assert.True((await new PlanService(store, TimeProvider.System).CreateAsync(new PlanInput { Id = "open", Name = "Open", RequestsPerMonth = 0 }, None)).Ok);
        var users = new UserService(store, TimeProvider.System);
        var month = new DateTimeOffset(2026, 12, 1, 0, 0, 0, TimeSpan.Zero);
        var ids = new Dictionary<string, string>();
        foreach (var (name, plan, used) in new[] { ("half", "k", 500L), ("line", "k", 800L), ("near", "k", 950L), ("over", "k", 1200L), ("open", "open", 99_999L), ("below", "k", 799L) })
        {
            var user = (await users.CreateAsync(new UserChanges { Email = name + "@example.com", Plan = plan }, None)).Value!;
            ids[user.Id] = name;
            await store.AddQuotaUsageAsync([new QuotaUsage(user.Id, month, used, 0)], None);
        }

        await store.AddQuotaUsageAsync([new QuotaUsage(ids.First(p => p.Value == "half").Key, month.AddMonths(-1), 5000, 0)], None);

        // Act
        var all = await store.ListUsersNearQuotaAsync(month, 0.8, 10, None);
        var two = await store.ListUsersNearQuotaAsync(month, 0.8, 2, None);
        var lastMonth = await store.ListUsersNearQuotaAsync(month.AddMonths(-1), 0.8, 10, None);

        // Assert
        Assert.Equal(["over", "near", "line"], all.Select(q => ids[q.UserId]));
        Assert.Equal([1200L, 950, 800], all.Select(q => q.Used));
        Assert.Equal(["over", "near"], two.Select(q => ids[q.UserId]));
        Assert.Equal(["half"], lastMonth.Select(q => ids[q.UserId]));
    }

    /// <summary>SQLite's plan for <paramref name="query"/> on the store file <paramref name="dsn"/>: one line per step.</summary>
    private static async Task<List<string>> QueryPlanAsync(string dsn, string query, params (string Name, string Value)[] parameters)
    {
        await using var connection = new SqliteConnection($"Data Source={dsn}");
        await connection.OpenAsync();
        await using var explain = connection.CreateCommand();
        explain.CommandText = "EXPLAIN QUERY PLAN " + query;
        foreach (var (name, value) in parameters)
        {
            explain.Parameters.AddWithValue(name, value);
        }

        var plan = new List<string>();
        await using var reader = await explain.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            plan.Add(reader.GetString(3));
        }

        return plan;
    }
}
