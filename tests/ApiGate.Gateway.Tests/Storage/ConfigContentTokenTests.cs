using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// The content token (migrations 21 and 22) on each engine: the database draws a new one for every change to the tables a
/// config snapshot is built from, and keeps it for changes to keys and users, which move the config version too — so
/// a gateway rebuilds its routes only when something they are built from changed.
/// </summary>
public sealed class ConfigContentTokenTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ContentToken_NewForEveryConfigTableChange_KeptForUsersAndKeys(string engine)
    {
        // Arrange
        var created = await engines.CreateAsync(engine);
        var moves = new List<(string Change, bool ConfigMoved, bool TokenMoved)>();
        async Task ChangeAsync(string change, params string[] args)
        {
            var before = await created.Store.GetVersionsAsync(None);
            var result = await created.CliAsync(args);
            Assert.True(result.ExitCode == 0, $"{change}: {result.Error}");
            var after = await created.Store.GetVersionsAsync(None);
            moves.Add((change, after.Config != before.Config, after.ContentToken != before.ContentToken));
        }

        // Act: one change to each table snapshots are built from, and to users and keys
        await ChangeAsync("upstream", "upstreams", "create", "--name", "backend", "--url", "http://127.0.0.1:9");
        await ChangeAsync("route", "routes", "create", "--name", "api", "--path", "/api/*", "--upstream", "backend");
        await ChangeAsync("route CORS", "routes", "update", "api", "--cors-origins", "https://app.example.com");
        await ChangeAsync("route credential", "routes", "update", "api", "--auth-scheme", "key_or_jwt");
        await ChangeAsync("plan", "plans", "create", "--id", "pro", "--name", "Pro");
        await ChangeAsync("entitlement", "entitlements", "create", "--name", "webhooks", "--value-type", "boolean", "--default-value", "false");
        await ChangeAsync("plan's entitlement", "plan-entitlements", "create", "--plan", "pro", "--entitlement", "webhooks", "--value", "true");
        await ChangeAsync("user", "users", "create", "--email", "token@example.com", "--plan", "pro");
        await ChangeAsync("key", "keys", "create", "--user", "token@example.com");

        // Assert: every change moved the config version; the token moved for the config tables only
        Assert.Equal(
            [("upstream", true, true), ("route", true, true), ("route CORS", true, true), ("route credential", true, true), ("plan", true, true),
             ("entitlement", true, true), ("plan's entitlement", true, true), ("user", true, false), ("key", true, false)],
            moves);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RouteList_KeptWhileTheTokenStays_ReadAgainAfterEveryRouteChangeWhoeverMakesIt(string engine)
    {
        // Arrange: the list the admin API and the console page through, read by a service that outlives the calls
        var created = await engines.CreateAsync(engine);
        var routes = new RouteService(created.Store, TimeProvider.System);
        Assert.Equal(0, (await created.CliAsync("upstreams", "create", "--name", "backend", "--url", "http://127.0.0.1:9")).ExitCode);
        Assert.Equal(0, (await created.CliAsync("routes", "create", "--name", "api", "--path", "/api/*", "--upstream", "backend")).ExitCode);
        Assert.Equal(0, (await created.CliAsync("plans", "create", "--id", "pro", "--name", "Pro")).ExitCode);

        // Act: listed; a user created (config version moves, token stays); a route edited by hand; a route created by
        // another process (the CLI)
        var first = await routes.ListAsync(None);
        Assert.Equal(0, (await created.CliAsync("users", "create", "--email", "list@example.com", "--plan", "pro")).ExitCode);
        var afterUser = await routes.ListAsync(None);
        await using (var connection = await created.OpenRawAsync())
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE routes SET description = 'edited by hand' WHERE slug = 'api'";
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }

        var afterEdit = await routes.ListAsync(None);
        Assert.Equal(0, (await created.CliAsync("routes", "create", "--name", "second", "--path", "/second/*", "--upstream", "backend")).ExitCode);
        var afterCreate = await routes.ListAsync(None);

        // Assert
        Assert.Same(first, afterUser);
        Assert.Equal("edited by hand", Assert.Single(afterEdit).Description);
        Assert.Equal(["api", "second"], afterCreate.Select(r => r.Slug).Order(StringComparer.Ordinal));
    }

    [PostgresFact]
    public async Task RouteList_RouteCorsTruncatedByHand_IsReadAgain()
    {
        // Arrange: a route with CORS, listed by a service that outlives the calls; TRUNCATE fires no row or statement
        // trigger of INSERT, UPDATE or DELETE, so only a TRUNCATE trigger draws a new token for it
        var created = await engines.CreateAsync(GatewayStores.Postgres);
        var routes = new RouteService(created.Store, TimeProvider.System);
        Assert.Equal(0, (await created.CliAsync("upstreams", "create", "--name", "backend", "--url", "http://127.0.0.1:9")).ExitCode);
        Assert.Equal(0, (await created.CliAsync("routes", "create", "--name", "web", "--path", "/web/*", "--upstream", "backend",
            "--cors-origins", "https://app.example.com")).ExitCode);
        var before = await routes.ListAsync(None);
        var tokenBefore = (await created.Store.GetVersionsAsync(None)).ContentToken;

        // Act: CORS cleared by hand, the way an operator empties a table
        await using (var connection = await created.OpenRawAsync())
        {
            await using var command = connection.CreateCommand();
            command.CommandText = "TRUNCATE route_cors";
            await command.ExecuteNonQueryAsync();
        }

        var after = await routes.ListAsync(None);
        var tokenAfter = (await created.Store.GetVersionsAsync(None)).ContentToken;

        // Assert
        Assert.Equal(["https://app.example.com"], Assert.Single(before).CorsOrigins);
        Assert.NotEqual(tokenBefore, tokenAfter);
        Assert.Empty(Assert.Single(after).CorsOrigins);
    }
}
