using ApiGate.Core.Storage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// The content token (migration 21) on each engine: the database draws a new one for every change to the tables a
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
}
