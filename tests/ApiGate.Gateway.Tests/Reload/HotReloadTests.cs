using System.Net;
using ApiGate.Core.Management;
using ApiGate.Core.Routing;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Reload;

public sealed class HotReloadTests : GatewayTestBase
{
    private readonly CapturedLog _log = new();
    private string _upstreamId = "";
    private string _routeId = "";

    private protected override void Configure(Configuration.GatewayOptions options)
    {
        options.LogWriter = _log.Writer;
        options.LogLevel = "info"; // the poll's recovery line is information
    }

    private protected override async Task SetUpAsync()
    {
        _upstreamId = (await Gateway.AddUpstreamAsync("backend", Upstream.Url)).Id;
        _routeId = (await Gateway.AddRouteAsync(new RouteInput { Name = "stable", Path = "/stable/*", Upstream = "backend" })).Id;
    }


    [Fact]
    public async Task CliCreateThenDisable_WhileServing_RouteStartsThenStopsServingWithoutRestart()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.Client.GetAsync(Gateway.Url + "/fresh/x")).StatusCode);

        var created = await Gateway.CliAsync("routes", "create", "--name", "fresh", "--path", "/fresh/*", "--upstream", "backend", "--auth=false");
        Assert.Equal(0, created.ExitCode);
        var afterCreate = await WaitForStatusAsync("/fresh/x", HttpStatusCode.OK);

        var disabled = await Gateway.CliAsync("routes", "disable", "fresh");
        Assert.Equal(0, disabled.ExitCode);
        var afterDisable = await WaitForStatusAsync("/fresh/x", HttpStatusCode.NotFound);

        // The same running gateway picks up both changes from the store by polling (every 100 ms here); how fast is
        // not asserted (a shared machine is noisy), only that it happens within the bounded wait.
        Assert.Equal(HttpStatusCode.OK, afterCreate);
        Assert.Equal(HttpStatusCode.NotFound, afterDisable);
    }

    [Fact]
    public async Task ConfigPoll_StoreUnreadableThenReadableAgain_FailureLoggedOnce_RecoveryLogged_ChangesApplyAgain()
    {
        // Arrange: the versions table taken away behind the gateway's back (a damaged or half-restored file)
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + Gateway.DatabasePath);
        await connection.OpenAsync();
        await using (var broken = connection.CreateCommand())
        {
            broken.CommandText = "ALTER TABLE config_version RENAME TO config_version_away";
            await broken.ExecuteNonQueryAsync();
        }

        await Task.Delay(1_000); // several polls (every 100 ms here) fail meanwhile

        // Act: the table comes back, and a route is created through the CLI
        await using (var mended = connection.CreateCommand())
        {
            mended.CommandText = "ALTER TABLE config_version_away RENAME TO config_version";
            await mended.ExecuteNonQueryAsync();
        }

        var created = await Gateway.CliAsync("routes", "create", "--name", "after", "--path", "/after/*", "--upstream", "backend", "--auth=false");
        var status = await WaitForStatusAsync("/after/x", HttpStatusCode.OK);
        var written = await _log.UpToMarkerAsync(Gateway);

        // Assert: one line for the outage however many polls failed, one for the recovery, and the poll goes on
        Assert.Equal(0, created.ExitCode);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Single(written.Split('\n'), l => l.Contains("Checking the store for config changes failed", StringComparison.Ordinal));
        Assert.Single(written.Split('\n'), l => l.Contains("Checking the store for config changes works again", StringComparison.Ordinal));
        Assert.True(Gateway.Snapshots.PollThread!.IsAlive);
    }

    [Fact]
    public async Task Reloads_DuringTraffic_FailNoRequest()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var failures = 0;
        var completed = 0;
        var clients = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var response = await Gateway.Client.GetAsync(Gateway.Url + "/stable/ping");
                Interlocked.Increment(ref completed);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        })).ToList();

        for (var i = 0; i < 20 && !stop.IsCancellationRequested; i++)
        {
            var result = await Gateway.Routes.UpdateAsync("stable", new RouteChanges { Priority = i, Description = "rev " + i }, CancellationToken.None);
            Assert.True(result.Ok);
            await Gateway.ReloadAsync();
            await Task.Delay(50);
        }

        await Task.WhenAll(clients);
        Assert.True(completed > 0);
        Assert.Equal(0, failures);
    }

    [Fact]
    public async Task RouteChanges_WithUpstreamsNoRouteUses_CreateNoUpstreamClients()
    {
        // Arrange: twenty upstreams no route uses, beside the one the route uses (whose clients exist already).
        for (var i = 0; i < 20; i++)
        {
            await Gateway.AddUpstreamAsync("spare-" + i, Upstream.Url);
        }

        await Gateway.ReloadAsync();
        var pool = Gateway.Service<Snapshots.UpstreamClientPool>();
        var createdBefore = pool.Created;

        // Act: five changes to the route, each applied.
        for (var i = 0; i < 5; i++)
        {
            Assert.True((await Gateway.Routes.UpdateAsync("stable", new RouteChanges { Description = "rev " + i }, CancellationToken.None)).Ok);
            await Gateway.ReloadAsync();
        }

        using var served = await Gateway.Client.GetAsync(Gateway.Url + "/stable/x");

        // Assert: the route's upstream kept its clients and the unused upstreams got none.
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal(createdBefore, pool.Created);
    }

    [Fact]
    public async Task KeyAndUserChanges_CompileNothingAgain_YetTheNewKeyIsServedAndTheRevokedOneRefused()
    {
        // Arrange: a route that takes keys, compiled
        await Gateway.AddRouteAsync(new RouteInput { Name = "keyed", Path = "/keyed/*", Upstream = "backend", AuthRequired = true });
        var compiled = Gateway.Snapshots.Current!;

        // Act: a user and a key created, the key used, then revoked — each change applied
        var (key, _, record) = await Gateway.CreateKeyAsync("reload@example.com");
        var afterCreate = Gateway.Snapshots.Current!;
        using var served = await GetWithKeyAsync("/keyed/x", key);
        Assert.True((await Gateway.Keys.RevokeAsync(record.Id, CancellationToken.None)).Ok);
        await Gateway.ReloadAsync();
        var afterRevoke = Gateway.Snapshots.Current!;
        using var refused = await GetWithKeyAsync("/keyed/x", key);

        // Assert: new config versions and identity versions, the same compiled routes, plans and upstream bindings; the
        // key served while it was valid and refused once revoked
        Assert.True(afterCreate.Version > compiled.Version && afterRevoke.Version > afterCreate.Version);
        Assert.True(afterCreate.IdentityVersion > compiled.IdentityVersion && afterRevoke.IdentityVersion > afterCreate.IdentityVersion);
        Assert.Same(compiled.Routes, afterCreate.Routes);
        Assert.Same(compiled.Routes, afterRevoke.Routes);
        Assert.Same(compiled.Plans, afterRevoke.Plans);
        Assert.Same(compiled.RouteUpstreams, afterRevoke.RouteUpstreams);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task RouteChanges_TakeWhatUnchangedRoutesCompiledFromThePreviousSnapshot_AndCompileWhatChanged()
    {
        // Arrange: a route with everything that compiles — a {id} path (a regex), an expression rewrite, request and
        // response transforms, a metering expression. On a config of thousands of such routes, every change compiled
        // all of them again.
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "rich", Path = "/rich/{id}/*", Upstream = "backend", AuthRequired = false, PathRewrite = "'/echo/' + pathParams.id",
            RequestTransform = """{"headers":{"add":{"X-Source":"apigate"}}}""", ResponseTransform = """{"headers":{"set":{"X-Kept":"yes"}}}""",
            MeteringMode = "custom", MeteringExpr = "status < 400 ? 2 : 0",
        });
        var first = Gateway.Snapshots.Current!;

        // Act: another route changed, then this one's metering expression
        Assert.True((await Gateway.Routes.UpdateAsync("stable", new RouteChanges { Priority = 3 }, CancellationToken.None)).Ok);
        await Gateway.ReloadAsync();
        var second = Gateway.Snapshots.Current!;
        using var served = await Gateway.Client.GetAsync(Gateway.Url + "/rich/42/x");
        Assert.True((await Gateway.Routes.UpdateAsync("rich", new RouteChanges { MeteringExpr = "3" }, CancellationToken.None)).Ok);
        await Gateway.ReloadAsync();
        var third = Gateway.Snapshots.Current!;

        // Assert: new tables, the unchanged parts the same objects, the changed expression compiled anew; the route served
        // as configured
        var (a, b, c) = (Rich(first), Rich(second), Rich(third));
        Assert.NotSame(first.Routes, second.Routes);
        Assert.NotSame(second.Routes, third.Routes);
        Assert.NotNull(a.Path.Regex);
        Assert.Same(a.Path, b.Path);
        Assert.Same(a.Path, c.Path);
        Assert.NotNull(a.Rewriter);
        Assert.Same(a.Rewriter, b.Rewriter);
        Assert.Same(a.Rewriter, c.Rewriter);
        Assert.NotNull(first.PoliciesFor(a).Request);
        Assert.Same(first.PoliciesFor(a).Request, second.PoliciesFor(b).Request);
        Assert.Same(first.PoliciesFor(a).Response, third.PoliciesFor(c).Response);
        Assert.Same(first.PoliciesFor(a).Metering, second.PoliciesFor(b).Metering);
        Assert.NotSame(second.PoliciesFor(b).Metering, third.PoliciesFor(c).Metering);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal("yes", Assert.Single(served.Headers.GetValues("X-Kept")));
        var received = Assert.Single(Upstream.Received, r => r.Path == "/echo/42");
        Assert.Equal("apigate", Assert.Single(received.Headers["X-Source"]));

        static CompiledRoute Rich(Snapshots.ConfigSnapshot snapshot) => snapshot.Routes.Routes.Single(r => r.Definition.Slug == "rich");
    }

    [Fact]
    public async Task RouteEditedByHand_WithTheConfigVersionMoved_IsCompiledAgain()
    {
        // Arrange
        var compiled = Gateway.Snapshots.Current!;

        // Act: a row changed past the gateway's code (the database's own trigger draws a new content token)
        await ExecuteAsync("UPDATE routes SET path_pattern = '/edited/*' WHERE slug = 'stable'; UPDATE config_version SET version = version + 1 WHERE id = 1;");
        await Gateway.ReloadAsync();
        using var moved = await Gateway.Client.GetAsync(Gateway.Url + "/edited/x");

        // Assert
        Assert.NotSame(compiled.Routes, Gateway.Snapshots.Current!.Routes);
        Assert.NotEqual(compiled.ContentToken, Gateway.Snapshots.Current!.ContentToken);
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
    }

    [Fact]
    public async Task BrokenSnapshot_KeepsPreviousServing()
    {
        // Bypass validation to store a route that cannot compile, as a damaged or hand-edited database would.
        await StoreUncompilableAndReloadAsync(new RouteDefinition
        {
            Id = "rt_broken",
            Name = "broken",
            Slug = "broken",
            PathPattern = "/broken/(",
            MatchType = PathMatchType.Regex,
            CreatedAt = DateTimeOffset.UtcNow,
            UpdatedAt = DateTimeOffset.UtcNow,
        });
    }

    [Theory]
    [InlineData("'/echo/' + (2n ** 250000n).toString(3).length")]
    [InlineData("'/echo/' +")]
    public async Task StoredInvalidRewriteExpression_RefusedWhenCompiled_KeepsPreviousServing(string rewrite)
    {
        // Stored bypassing validation (a BigInt one before BigInt was refused): compiling it fails; it is never run.
        await StoreUncompilableAndReloadAsync(new RouteDefinition
        {
            Id = "rt_slow",
            Name = "slow",
            Slug = "slow",
            PathPattern = "/slow/*",
            PathRewrite = rewrite,
            AuthRequired = false,
            CreatedAt = DateTimeOffset.UtcNow,
            UpdatedAt = DateTimeOffset.UtcNow,
        });

        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.Client.GetAsync(Gateway.Url + "/slow/x")).StatusCode);
    }

    [Theory]
    [InlineData("UPDATE routes SET match_type = 'bogus' WHERE slug = 'stable'", "routes row '{route}' cannot be read: stored value 'bogus' is not a valid PathMatchType")]
    [InlineData("UPDATE routes SET headers = 'not json' WHERE slug = 'stable'", "routes row '{route}' cannot be read: 'not json' is an invalid JSON literal")]
    [InlineData("UPDATE upstreams SET http_version = '3' WHERE slug = 'backend'", "upstreams row '{upstream}' cannot be read: upstreams.http_version '3' is not one of 1.1, 2")]
    public async Task DamagedStoredRow_CountedAsFailedReloadOnce_PreviousKeepsServing(string damage, string reason)
    {
        // Arrange: a row no build writes (a hand edit, a damaged file), stored with a new config version.
        var before = Gateway.Snapshots.Current!.Version;
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + Gateway.DatabasePath))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = damage + "; UPDATE config_version SET version = version + 1 WHERE id = 1;";
            await command.ExecuteNonQueryAsync();
        }

        // Act: reloads asked for directly, and the polls (every 100 ms here) that come meanwhile.
        await Gateway.ReloadAsync();
        await Gateway.ReloadAsync();
        await Task.Delay(500);
        using var served = await Gateway.Client.GetAsync(Gateway.Url + "/stable/x");
        var written = await _log.UpToMarkerAsync(Gateway);

        // Assert: reported as a version that cannot be compiled, with the reason, once; not as a store outage.
        Assert.Equal(before, Gateway.Snapshots.Current!.Version);
        Assert.Equal(1, Gateway.Snapshots.ReloadFailures);
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        var failures = written.Split('\n').Where(l => l.Contains($"Config version {before + 1} cannot be compiled", StringComparison.Ordinal)).ToList();
        Assert.Contains(reason.Replace("{route}", _routeId, StringComparison.Ordinal).Replace("{upstream}", _upstreamId, StringComparison.Ordinal),
            Assert.Single(failures), StringComparison.Ordinal);
        Assert.DoesNotContain("Checking the store for config changes failed", written, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VersionThatFailedBefore_ReachedAgainAfterTheStoreWentBack_IsLoaded()
    {
        // Arrange: version B+1 fails (a damaged row); then the store goes back to version 1, repaired, as a restored
        // backup would leave it, and is served.
        var before = Gateway.Snapshots.Current!.Version;
        await ExecuteAsync($"UPDATE routes SET match_type = 'bogus' WHERE slug = 'stable'; UPDATE config_version SET version = {before + 1} WHERE id = 1;");
        await Gateway.ReloadAsync();
        await ExecuteAsync("UPDATE routes SET match_type = 'prefix' WHERE slug = 'stable'; UPDATE config_version SET version = 1 WHERE id = 1;");
        await Gateway.ReloadAsync();
        var restored = Gateway.Snapshots.Current!.Version;

        // Act: later changes bring the count back to the number that failed, with a config that compiles.
        await ExecuteAsync($"UPDATE routes SET path_pattern = '/moved/*' WHERE slug = 'stable'; UPDATE config_version SET version = {before + 1} WHERE id = 1;");
        await Gateway.ReloadAsync();
        using var moved = await Gateway.Client.GetAsync(Gateway.Url + "/moved/x");

        // Assert
        Assert.Equal(1, restored);
        Assert.Equal(before + 1, Gateway.Snapshots.Current!.Version);
        Assert.Equal(HttpStatusCode.OK, moved.StatusCode);
    }

    private Task<HttpResponseMessage> GetWithKeyAsync(string path, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + path);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return Gateway.Client.SendAsync(request);
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new Microsoft.Data.Sqlite.SqliteConnection("Data Source=" + Gateway.DatabasePath);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// Stores <paramref name="route"/> past validation, reloads, and checks the reload was refused as a failure while the
    /// config before it keeps serving.
    /// </summary>
    private async Task StoreUncompilableAndReloadAsync(RouteDefinition route)
    {
        var before = Gateway.Snapshots.Current!.Version;
        await Gateway.Store.CreateRouteAsync(route, CancellationToken.None);

        await Gateway.ReloadAsync();

        Assert.Equal(before, Gateway.Snapshots.Current!.Version);
        Assert.Equal(1, Gateway.Snapshots.ReloadFailures);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + "/stable/x")).StatusCode);
    }

    /// <summary>Polls until <paramref name="path"/> answers <paramref name="expected"/> (at most 250 tries, 20 ms apart); returns the last status.</summary>
    private async Task<HttpStatusCode> WaitForStatusAsync(string path, HttpStatusCode expected)
    {
        var status = HttpStatusCode.InternalServerError;
        for (var i = 0; i < 250; i++)
        {
            status = (await Gateway.Client.GetAsync(Gateway.Url + path)).StatusCode;
            if (status == expected)
            {
                return status;
            }

            await Task.Delay(20);
        }

        return status;
    }
}
