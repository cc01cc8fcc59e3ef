using ApiGate.Core.Entitlements;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Core.Upstreams;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// The store contract, run against every engine (SQLite, PostgreSQL): migrations, config and identity round trips,
/// the conflicts the management services turn into errors naming the field, the config version rule, admin tokens,
/// target health and quota counters. Written through the management services where they exist, as the CLI and the
/// admin API use the store.
/// </summary>
public sealed class GatewayStoreTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    /// <summary>The migration versions an engine declares, in order (both engines declare the same ones; see the test below).</summary>
    private static int[] ExpectedVersions(string engine) =>
        (engine == GatewayStores.Postgres ? ApiGate.Storage.Postgres.PostgresMigrations.All.Select(m => m.Version) : ApiGate.Storage.Sqlite.SqliteMigrations.All.Select(m => m.Version)).ToArray();

    [Fact]
    public void Migrations_BothEngines_DeclareTheSameVersionsAndNamesInAscendingOrder()
    {
        // Arrange
        var sqlite = ApiGate.Storage.Sqlite.SqliteMigrations.All.Select(m => (m.Version, m.Name)).ToArray();
        var postgres = ApiGate.Storage.Postgres.PostgresMigrations.All.Select(m => (m.Version, m.Name)).ToArray();

        // Act
        var versions = sqlite.Select(m => m.Version).ToArray();

        // Assert
        Assert.Equal(sqlite, postgres);
        Assert.Equal(Enumerable.Range(1, 26), versions);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateUser_PlanDeletedMeanwhile_ConflictSaysSoNotThatTheEmailIsTaken(string engine)
    {
        // Arrange: the write a user creation makes when its plan was deleted between the service's check and the insert
        var store = (await engines.CreateAsync(engine)).Store;
        var user = new ApiGate.Core.Identity.UserDefinition { Id = "usr_race", Email = "race@example.com", PlanId = "deleted-plan" };

        // Act
        var error = await Assert.ThrowsAsync<ApiGate.Core.Storage.StoreConflictException>(() => store.CreateUserAsync(user, None));

        // Assert
        Assert.Contains("was deleted at the same time", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("already exists", error.Message, StringComparison.Ordinal);
        Assert.Null(await store.FindUserAsync("usr_race", None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task FindByIdOrName_ANameThatIsAnotherRowsId_TheRowWithThatIdWins(string engine)
    {
        // Arrange: a decoy admin token and entitlement, each named with the real one's id — stored as such before the
        // services refused names of that form, so written to the store directly
        var store = (await engines.CreateAsync(engine)).Store;
        var tokens = new ApiGate.Core.Management.AdminTokenService(store, TimeProvider.System);
        var real = (await tokens.CreateAsync("ops", None)).Value!.Record;
        var decoy = (await tokens.CreateAsync("decoy", None)).Value!.Record with { Id = "adm_0123456789abcdef", Prefix = "agt_decoy000", Hash = new string('0', 64) };
        await store.CreateAdminTokenAsync(decoy with { Name = real.Id }, None);
        var entitlements = new ApiGate.Core.Management.EntitlementService(store, TimeProvider.System);
        var realEntitlement = (await entitlements.CreateAsync(new ApiGate.Core.Management.EntitlementChanges { Name = "seats" }, None)).Value!;
        var decoyEntitlement = (await entitlements.CreateAsync(new ApiGate.Core.Management.EntitlementChanges { Name = "decoy" }, None)).Value!;
        await store.UpdateEntitlementAsync(decoyEntitlement with { Name = realEntitlement.Id }, decoyEntitlement.UpdatedAt, "name", None);

        // Act
        var revoked = await tokens.RevokeAsync(real.Id, None);
        var entitlement = await store.FindEntitlementAsync(realEntitlement.Id, None);
        var byDecoyName = await store.FindEntitlementAsync(decoyEntitlement.Id, None);

        // Assert
        Assert.Equal(real.Id, revoked.Value!.Token.Id);
        Assert.Null((await store.FindAdminTokenAsync(decoy.Id, None))!.RevokedAt);
        Assert.Equal(realEntitlement.Id, entitlement!.Id);
        Assert.Equal(decoyEntitlement.Id, byDecoyName!.Id);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task FindAndListUsers_ReferenceHoldingNul_NothingFoundOnEveryEngine(string engine)
    {
        // Arrange: a NUL reaches a lookup from a query parameter (?user=%00) or a body ({"plan": "\u0000"});
        // PostgreSQL's text type cannot hold the byte at all
        var store = (await engines.CreateAsync(engine)).Store;
        Assert.True((await new UserService(store, TimeProvider.System).CreateAsync(new UserChanges { Email = "ada@example.com" }, None)).Ok);
        const string Nul = "ada\0@example.com";

        // Act
        var user = await store.FindUserAsync(Nul, None);
        var plan = await store.FindPlanAsync("free\0", None);
        var upstream = await store.FindUpstreamAsync("\0", None);
        var entitlement = await store.FindEntitlementAsync("\0", None);
        var page = await store.ListUsersPageAsync("\0", 0, null, 50, None);

        // Assert
        Assert.Null(user);
        Assert.Null(plan);
        Assert.Null(upstream);
        Assert.Null(entitlement);
        Assert.Empty(page.Items);
        Assert.Equal(0, page.Total);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UsageSubject_IdHoldingNul_NotFoundOnEveryEngine(string engine)
    {
        // Arrange: ?user=%00 on /admin/usage/* (or the console's usage page) names no user, so the id is looked up among
        // deleted users' usage, where PostgreSQL refused the byte: 503 store_unavailable instead of 404
        var store = (await engines.CreateAsync(engine)).Store;
        var usage = new UsageService(store, TimeProvider.System);

        // Act
        var nul = await usage.FindSubjectAsync("\0", emailOnly: false, None);
        var inside = await usage.FindSubjectAsync("usr_\0", emailOnly: false, None);

        // Assert
        Assert.Equal(ManagementErrorKind.NotFound, nul.Error!.Kind);
        Assert.Equal(ManagementErrorKind.NotFound, inside.Error!.Kind);
        Assert.False(await store.HasUsageAsync("\0", None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateNamed_NameLongerThanAnIndexEntryHolds_RefusedNamingTheFieldOnEveryEngine(string engine)
    {
        // Arrange: random letters, which PostgreSQL cannot compress into its 2,704-byte B-tree entries
        var store = (await engines.CreateAsync(engine)).Store;
        var upstreams = new UpstreamService(store, TimeProvider.System);
        var routes = new RouteService(store, TimeProvider.System);
        var users = new UserService(store, TimeProvider.System);
        var random = new Random(7);
        string Letters(int count) => new(Enumerable.Range(0, count).Select(_ => (char)('a' + random.Next(26))).ToArray());
        var tooLong = Letters(3000);
        var longest = Letters(TextFields.MaxNameLength);
        Assert.True((await users.CreateAsync(new UserChanges { Email = "ada@example.com" }, None)).Ok);

        // Act
        var refused = new[]
        {
            (await upstreams.CreateAsync(new UpstreamChanges { Name = tooLong, Url = new Uri("http://127.0.0.1:9") }, None)).Error,
            (await routes.CreateAsync(new RouteInput { Name = tooLong, Path = "/long" }.Parsed(), None)).Error,
            (await new EntitlementService(store, TimeProvider.System).CreateAsync(new EntitlementChanges { Name = tooLong }, None)).Error,
            new IdentityInput { Subject = tooLong, Issuer = "https://idp.example.com" }.ToLink("").Error,
        };
        var upstream = await upstreams.CreateAsync(new UpstreamChanges { Name = longest, Url = new Uri("http://127.0.0.1:9") }, None);
        var unnamedRoute = await routes.CreateAsync(new RouteInput { Path = "/" + tooLong }.Parsed(), None);
        var link = await users.LinkIdentityAsync("ada@example.com",
            new IdentityInput { Subject = Letters(TextFields.MaxNameLength), Issuer = "https://" + Letters(TextFields.MaxNameLength - 12) + ".com" }.ToLink("").Value!, None);

        // Assert
        Assert.Equal(
            [(ManagementErrorKind.Validation, "name"), (ManagementErrorKind.Validation, "name"), (ManagementErrorKind.Validation, "name"), (ManagementErrorKind.Validation, "subject")],
            refused.Select(e => (e?.Kind, e?.Field)));
        Assert.True(upstream.Ok, upstream.Error?.ToString());
        Assert.True(unnamedRoute.Ok, unnamedRoute.Error?.ToString());
        Assert.Equal(TextFields.MaxNameLength, unnamedRoute.Value!.Name.Length);
        Assert.True(link.Ok, link.Error?.ToString());
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateUpstream_TargetUrlLongerThanAnIndexEntryHolds_RefusedAndTheLongestHasItsHealthReported(string engine)
    {
        // Arrange: a target's URL is part of target_health's key, which every running gateway writes every 10 s
        var store = (await engines.CreateAsync(engine)).Store;
        var upstreams = new UpstreamService(store, TimeProvider.System);
        var random = new Random(11);
        string Letters(int count) => new(Enumerable.Range(0, count).Select(_ => (char)('a' + random.Next(26))).ToArray());
        const string Base = "http://127.0.0.1:9/";
        var longestUrl = Base + Letters(UpstreamService.MaxUrlBytes - Base.Length);
        var at = DateTimeOffset.UtcNow;

        // Act
        var tooLong = await upstreams.CreateAsync(new UpstreamInput { Name = "too-long", Url = Base + Letters(3000) }.Parsed(), None);
        var tooLongTarget = await upstreams.CreateAsync(new UpstreamInput { Name = "too-long-target", Targets = [new TargetInput { Url = Base }, new TargetInput { Url = Base + new string('é', 1100) }] }.Parsed(), None);
        var longest = await upstreams.CreateAsync(new UpstreamInput { Name = "longest", Url = longestUrl }.Parsed(), None);
        await store.ReportTargetHealthAsync(
            [new() { InstanceId = "gw-a", UpstreamId = longest.Value!.Id, TargetUrl = longestUrl, State = "healthy", Since = at, Reason = "", ReportedAt = at }], None);

        // Assert
        Assert.Equal((ManagementErrorKind.Validation, "url"), (tooLong.Error?.Kind, tooLong.Error?.Field));
        Assert.Equal((ManagementErrorKind.Validation, "targets.1.url"), (tooLongTarget.Error?.Kind, tooLongTarget.Error?.Field));
        Assert.Equal(longestUrl, Assert.Single(await store.ListTargetHealthAsync(longest.Value.Id, None)).TargetUrl);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task InitializeAsync_SecondTime_AppliesNoMigrationAndIsNotCreated(string engine)
    {
        // Arrange
        var first = await engines.CreateAsync(engine);
        await using var again = GatewayStores.Create(engine, first.Dsn, new SecretProtector(null));

        // Act
        await again.InitializeAsync(None);

        // Assert
        Assert.True(first.Store.Created);
        Assert.Equal(ExpectedVersions(engine), first.Store.MigrationsApplied.Select(m => m.Version));
        Assert.False(again.Created);
        Assert.Empty(again.MigrationsApplied);
        Assert.Equal(ExpectedVersions(engine)[^1], again.SchemaVersion);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task InitializeAsync_FourInstancesAtOnce_EachMigrationAppliedOnce(string engine)
    {
        // Arrange
        var dsn = await engines.NewDsnAsync(engine);
        var stores = Enumerable.Range(0, 4).Select(_ => GatewayStores.Create(engine, dsn, new SecretProtector(null))).ToList();

        // Act
        await Task.WhenAll(stores.Select(s => s.InitializeAsync(None)));

        // Assert
        Assert.Equal(ExpectedVersions(engine).Length, stores.Sum(s => s.MigrationsApplied.Count));
        Assert.Equal(ExpectedVersions(engine), stores.SelectMany(s => s.MigrationsApplied).Select(m => m.Version).Order());
        Assert.Equal(1, await stores[0].GetConfigVersionAsync(None));
        foreach (var store in stores)
        {
            await store.DisposeAsync();
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CheckAsync_Migrated_Ok(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;

        // Act
        var check = await store.CheckAsync(None);

        // Assert
        Assert.Equal(StoreCheck.Ok, check);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateUpstream_ThenLoadConfig_RoundTripsEveryFieldAndCredential(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var upstreams = new UpstreamService(store, TimeProvider.System);
        var routes = new RouteService(store, TimeProvider.System);
        var created = await upstreams.CreateAsync(new UpstreamInput
        {
            Name = "Users API", Timeout = "2500", AuthType = "bearer", AuthValue = "s3cret", HttpVersion = "2",
            Targets = [new TargetInput { Url = "http://127.0.0.1:9001", Weight = 3 }, new TargetInput { Url = "http://127.0.0.1:9002", Weight = 1 }],
            LbPolicy = "least_requests",
        }.Parsed(), None);
        Assert.True(created.Ok, created.Error?.ToString());
        var route = await routes.CreateAsync(new RouteInput
        {
            Name = "Users", Path = "/users/*", MatchType = "prefix", Upstream = "users-api", Methods = "GET,POST", Headers = ["x-tenant=a"], Priority = 7, PathRewrite = "/v2/$1",
        }.Parsed(), None);
        Assert.True(route.Ok, route.Error?.ToString());

        // Act
        var config = await store.LoadConfigAsync(None);

        // Assert
        var upstream = Assert.Single(config.Upstreams);
        var expected = created.Value!;
        Assert.Equal((expected.Id, expected.Name, expected.TimeoutMs, expected.AuthType, expected.HttpVersion, expected.LbPolicy, expected.CreatedAt),
            (upstream.Id, upstream.Name, upstream.TimeoutMs, upstream.AuthType, upstream.HttpVersion, upstream.LbPolicy, upstream.CreatedAt));
        Assert.Equal("s3cret", upstream.AuthValue);
        Assert.Equal(expected.EffectiveTargets, upstream.EffectiveTargets);
        var stored = Assert.Single(config.Routes);
        Assert.Equal((route.Value!.Id, route.Value.Slug, route.Value.UpstreamId, route.Value.Priority, route.Value.PathRewrite, route.Value.UpdatedAt),
            (stored.Id, stored.Slug, stored.UpstreamId, stored.Priority, stored.PathRewrite, stored.UpdatedAt));
        Assert.Equal(["GET", "POST"], stored.Methods);
        Assert.Equal(route.Value.Headers, stored.Headers);
        Assert.Equal("free", Assert.Single(config.Plans).Id);
        Assert.Equal(3, config.Version);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateUpstream_SameNameOtherCase_ConflictOnName(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var upstreams = new UpstreamService(store, TimeProvider.System);
        Assert.True((await upstreams.CreateAsync(new UpstreamInput { Name = "Billing", Url = "http://127.0.0.1:9001" }.Parsed(), None)).Ok);

        // Act
        var second = await upstreams.CreateAsync(new UpstreamInput { Name = "BILLING ", Url = "http://127.0.0.1:9002" }.Parsed(), None);

        // Assert
        Assert.Equal(ManagementErrorKind.Conflict, second.Error?.Kind);
        Assert.Equal("name", second.Error?.Field);
        Assert.Single(await store.ListUpstreamsAsync(None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task DeleteUpstream_UsedByRoute_ConflictNamingTheRoute(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var upstreams = new UpstreamService(store, TimeProvider.System);
        await upstreams.CreateAsync(new UpstreamInput { Name = "Orders", Url = "http://127.0.0.1:9001" }.Parsed(), None);
        await new RouteService(store, TimeProvider.System).CreateAsync(new RouteInput { Name = "Orders route", Path = "/orders", Upstream = "orders" }.Parsed(), None);

        // Act
        var deleted = await upstreams.DeleteAsync("orders", None);

        // Assert
        Assert.Equal(ManagementErrorKind.Conflict, deleted.Error?.Kind);
        Assert.Equal("upstream", deleted.Error?.Field);
        Assert.Contains("orders-route", deleted.Error?.Message, StringComparison.Ordinal);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateUser_EmailOtherCase_ConflictOnEmail_AndFoundByEitherCase(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var users = new UserService(store, TimeProvider.System);
        var first = await users.CreateAsync(new UserChanges { Email = "Ada@Example.com" }, None);
        Assert.True(first.Ok, first.Error?.ToString());

        // Act
        var second = await users.CreateAsync(new UserChanges { Email = "ada@example.COM" }, None);
        var found = await store.FindUserAsync("ADA@example.com", None);

        // Assert
        Assert.Equal(ManagementErrorKind.Conflict, second.Error?.Kind);
        Assert.Equal("email", second.Error?.Field);
        Assert.Equal(first.Value!.Id, found?.Id);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreateUser_EmailNonAsciiOtherCase_SameUserOnEveryEngine(string engine)
    {
        // Arrange: SQLite's NOCASE folds only ASCII, PostgreSQL's lower() follows its locale; both must agree.
        var store = (await engines.CreateAsync(engine)).Store;
        var users = new UserService(store, TimeProvider.System);
        var first = await users.CreateAsync(new UserChanges { Email = "  ÉLODIE@Exemple.fr " }, None);
        Assert.True(first.Ok, first.Error?.ToString());

        // Act
        var second = await users.CreateAsync(new UserChanges { Email = "élodie@exemple.FR" }, None);
        var byUpper = await store.FindUserAsync("ÉLODIE@EXEMPLE.FR", None);
        var byLower = await store.FindUserAsync("élodie@exemple.fr", None);

        // Assert: stored with its non-ASCII letters lower-cased (ASCII as typed), one user however it is written.
        Assert.Equal("éLODIE@Exemple.fr", first.Value!.Email);
        Assert.Equal(ManagementErrorKind.Conflict, second.Error?.Kind);
        Assert.Equal("email", second.Error?.Field);
        Assert.Equal(first.Value.Id, byUpper?.Id);
        Assert.Equal(first.Value.Id, byLower?.Id);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task DeletePlan_WithUsers_ConflictOnPlan(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var plans = new PlanService(store, TimeProvider.System);
        await plans.CreateAsync(new PlanInput { Id = "pro", Name = "Pro", RateLimitPerMinute = 600, RequestsPerMonth = 100_000 }, None);
        await new UserService(store, TimeProvider.System).CreateAsync(new UserChanges { Email = "p@example.com", Plan = "pro" }, None);

        // Act
        var deleted = await plans.DeleteAsync("pro", None);

        // Assert
        Assert.Equal(ManagementErrorKind.Conflict, deleted.Error?.Kind);
        Assert.Equal("plan", deleted.Error?.Field);
        Assert.Contains("p@example.com", deleted.Error?.Message, StringComparison.Ordinal);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreatePlan_Default_ClearsTheFlagOnEveryOtherPlan(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var plans = new PlanService(store, TimeProvider.System);

        // Act
        var created = await plans.CreateAsync(new PlanInput { Id = "starter", Name = "Starter", IsDefault = true, RequestsPerMonth = 9_000_000_000 }, None);
        var duplicate = await plans.CreateAsync(new PlanInput { Id = "starter", Name = "Again" }, None);

        // Assert
        Assert.True(created.Ok, created.Error?.ToString());
        Assert.Equal(["starter"], (await store.ListPlansAsync(None)).Where(p => p.IsDefault).Select(p => p.Id));
        Assert.Equal(9_000_000_000, (await store.FindPlanAsync("starter", None))!.RequestsPerMonth);
        Assert.Equal(ManagementErrorKind.Conflict, duplicate.Error?.Kind);
        Assert.Equal("id", duplicate.Error?.Field);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RevokeKey_BumpsConfigVersion_TouchKeysDoesNot(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        await new UserService(store, TimeProvider.System).CreateAsync(new UserChanges { Email = "k@example.com" }, None);
        var keys = new KeyService(store, TimeProvider.System);
        var key = (await keys.CreateAsync(new KeyChanges { User = "k@example.com" }, None)).Value!;
        var before = await store.GetConfigVersionAsync(None);
        var usedAt = new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);

        // Act
        await store.TouchKeysAsync(new Dictionary<string, DateTimeOffset> { [key.Key.Id] = usedAt }, None);
        var afterTouch = await store.GetConfigVersionAsync(None);
        var revoked = await keys.RevokeAsync(key.Key.Id, None);
        var afterRevoke = await store.GetConfigVersionAsync(None);
        var found = Assert.Single(await store.FindKeysByPrefixAsync(key.Key.Prefix, None));

        // Assert
        Assert.True(revoked.Ok, revoked.Error?.ToString());
        Assert.Equal(before, afterTouch);
        Assert.Equal(before + 1, afterRevoke);
        Assert.Equal(usedAt, found.Key.LastUsedAt);
        Assert.NotNull(found.Key.RevokedAt);
        Assert.Equal("k@example.com", found.Owner.User.Email);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task IdentityVersion_MovedByKeyUserAndLinkChanges_KeptByRouteUpstreamPlanChangesAndKeyTouches(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var users = new UserService(store, TimeProvider.System);
        var keys = new KeyService(store, TimeProvider.System);
        Assert.True((await users.CreateAsync(new UserChanges { Email = "iv@example.com" }, None)).Ok);
        var key = (await keys.CreateAsync(new KeyChanges { User = "iv@example.com" }, None)).Value!;
        async Task<(long Config, long Identity)> VersionsAsync()
        {
            var data = await store.LoadConfigAsync(None);
            return (data.Version, data.IdentityVersion);
        }

        var start = await VersionsAsync();

        // Act: changes that cannot alter what a key stands for ...
        Assert.True((await new UpstreamService(store, TimeProvider.System).CreateAsync(new UpstreamChanges { Name = "iv", Url = new Uri("http://127.0.0.1:9") }, None)).Ok);
        Assert.True((await new RouteService(store, TimeProvider.System).CreateAsync(new RouteInput { Name = "iv", Path = "/iv/*", Upstream = "iv" }.Parsed(), None)).Ok);
        Assert.True((await new PlanService(store, TimeProvider.System).CreateAsync(new PlanInput { Id = "iv", Name = "IV" }, None)).Ok);
        await store.TouchKeysAsync(new Dictionary<string, DateTimeOffset> { [key.Key.Id] = DateTimeOffset.UtcNow }, None);
        var afterConfig = await VersionsAsync();

        // ... and each change that can.
        var steps = new List<(long Config, long Identity)>();
        Assert.True((await users.UpdateAsync("iv@example.com", new UserChanges { Plan = "iv" }, None)).Ok);
        steps.Add(await VersionsAsync());
        Assert.True((await keys.CreateAsync(new KeyChanges { User = "iv@example.com" }, None)).Ok);
        steps.Add(await VersionsAsync());
        Assert.True((await keys.RevokeAsync(key.Key.Id, None)).Ok);
        steps.Add(await VersionsAsync());
        await store.LinkIdentityAsync(new ApiGate.Core.Identity.UserIdentity { Issuer = "https://issuer.example", Subject = "sub-1", UserId = key.Key.UserId, CreatedAt = DateTimeOffset.UtcNow }, configuration: true, None);
        steps.Add(await VersionsAsync());

        // Assert
        Assert.True(afterConfig.Config >= start.Config + 3);
        Assert.Equal(start.Identity, afterConfig.Identity);
        var previous = afterConfig.Identity;
        foreach (var (config, identity) in steps)
        {
            Assert.True(identity > previous, $"identity version {identity} after {previous}");
            previous = identity;
        }
    }

    [PostgresFact]
    public async Task IdentityVersion_TablesEmptiedByHandWithTruncate_MovedEachTime()
    {
        // Arrange: PostgreSQL only (SQLite has no TRUNCATE: a DELETE fires its row triggers); a TRUNCATE fires no INSERT,
        // UPDATE or DELETE trigger, so without its own trigger every gateway kept its cached keys and subjects working
        var created = await engines.CreateAsync(GatewayStores.Postgres);
        Assert.True((await new UserService(created.Store, TimeProvider.System).CreateAsync(new UserChanges { Email = "truncate@example.com" }, None)).Ok);
        var key = (await new KeyService(created.Store, TimeProvider.System).CreateAsync(new KeyChanges { User = "truncate@example.com" }, None)).Value!;
        await created.Store.LinkIdentityAsync(new ApiGate.Core.Identity.UserIdentity { Issuer = "https://issuer.example", Subject = "sub-1", UserId = key.Key.UserId, CreatedAt = DateTimeOffset.UtcNow }, configuration: false, None);
        var versions = new List<long> { (await created.Store.GetVersionsAsync(None)).Identity };

        // Act: each table emptied the way an operator stops every key (or every link, every user) at once
        foreach (var truncate in new[] { "TRUNCATE user_identities", "TRUNCATE api_keys", "TRUNCATE users CASCADE" })
        {
            await using (var connection = await created.OpenRawAsync())
            {
                await using var command = connection.CreateCommand();
                command.CommandText = truncate;
                await command.ExecuteNonQueryAsync();
            }

            versions.Add((await created.Store.GetVersionsAsync(None)).Identity);
        }

        // Assert
        Assert.True(versions.Zip(versions.Skip(1)).All(pair => pair.Second > pair.First), "identity versions: " + string.Join(", ", versions));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreatePlanEntitlement_SecondForSamePlanAndEntitlement_ConflictOnEntitlement(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var entitlement = await new EntitlementService(store, TimeProvider.System).CreateAsync(
            new EntitlementChanges { Name = "webhooks", ValueType = EntitlementValueType.Boolean, DefaultValue = "false" }, None);
        Assert.True(entitlement.Ok, entitlement.Error?.ToString());
        var assignments = new PlanEntitlementService(store, TimeProvider.System);
        Assert.True((await assignments.CreateAsync(new PlanEntitlementInput { Plan = "free", Entitlement = "webhooks", Value = "true" }, None)).Ok);

        // Act
        var second = await assignments.CreateAsync(new PlanEntitlementInput { Plan = "free", Entitlement = "webhooks", Value = "false" }, None);

        // Assert
        Assert.Equal(ManagementErrorKind.Conflict, second.Error?.Kind);
        Assert.Equal("entitlement_id", second.Error?.Field);
        Assert.Equal("true", Assert.Single(await store.ListPlanEntitlementsAsync("free", None)).Value);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AdminTokens_CreateDuplicateRevoke_CountsActiveAndKeepsConfigVersion(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var tokens = new AdminTokenService(store, TimeProvider.System);
        var version = await store.GetConfigVersionAsync(None);

        // Act
        var ops = await tokens.CreateAsync("ops", None);
        var duplicate = await tokens.CreateAsync("OPS", None);
        await tokens.CreateAsync("ci", None);
        var revoked = await tokens.RevokeAsync("Ops", None);

        // Assert
        Assert.True(ops.Ok, ops.Error?.ToString());
        Assert.Equal(ManagementErrorKind.Conflict, duplicate.Error?.Kind);
        Assert.Equal("name", duplicate.Error?.Field);
        Assert.True(revoked.Ok, revoked.Error?.ToString());
        Assert.Equal(1, await store.CountActiveAdminTokensAsync(None));
        Assert.Equal(2, (await store.ListAdminTokensAsync(None)).Count);
        Assert.Single(await store.FindAdminTokensByPrefixAsync(ops.Value!.Record.Prefix, None));
        Assert.Equal(version, await store.GetConfigVersionAsync(None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task TargetHealth_ReportTwiceTouchAndExpire_KeepsOneRowPerTarget(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var t = new DateTimeOffset(2026, 5, 1, 12, 0, 0, TimeSpan.Zero);
        TargetHealthReport Report(string instance, string state, DateTimeOffset at) =>
            new() { InstanceId = instance, UpstreamId = "ups_1", TargetUrl = "http://127.0.0.1:9001", State = state, Since = at, Reason = "probe", ReportedAt = at };

        // Act
        await store.ReportTargetHealthAsync([Report("gw-a", "healthy", t), Report("gw-b", "healthy", t)], None);
        await store.ReportTargetHealthAsync([Report("gw-a", "unhealthy", t.AddSeconds(5))], None);
        var touched = await store.TouchTargetHealthAsync("gw-a", t.AddMinutes(5), None);
        var expired = await store.DeleteTargetHealthReportedBeforeAsync(t.AddMinutes(1), None);
        var left = await store.ListTargetHealthAsync("ups_1", None);

        // Assert
        Assert.Equal(1, touched);
        Assert.Equal(1, expired);
        var row = Assert.Single(left);
        Assert.Equal(("gw-a", "unhealthy", t.AddMinutes(5)), (row.InstanceId, row.State, row.ReportedAt));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task AddQuotaUsage_Twice_AddsPerUserAndPeriod(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var may = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);

        // Act
        await store.AddQuotaUsageAsync([new("usr_1", may, 5, 0), new("usr_2", may, 1, 0), new("usr_1", may.AddMonths(1), 100, 0)], None);
        await store.AddQuotaUsageAsync([new("usr_1", may, 7, 2)], None);
        var loaded = await store.LoadQuotaUsageAsync(may, None);

        // Assert
        Assert.Equal([new("usr_1", may, 12, 2), new("usr_2", may, 1, 0)], loaded.OrderBy(q => q.UserId));
    }
}
