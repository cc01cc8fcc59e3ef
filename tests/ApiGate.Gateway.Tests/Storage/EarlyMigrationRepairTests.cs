using ApiGate.Core.Identity;
using ApiGate.Core.Routing;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// Migration 14 of each engine: migrations 11 and 12 were extended after builds that applied their first form had
/// shipped. A store those builds migrated records 11 and 12 as applied but lacks what was added to them later; the
/// current build must create it (every start failed on <c>route_auth</c>, and the admin audit trail was never written),
/// and must leave a store that has it as it is.
/// </summary>
public sealed class EarlyMigrationRepairTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;
    private static readonly DateTimeOffset T0 = new(2026, 11, 30, 12, 0, 0, TimeSpan.Zero);
    private const string Issuer = "https://login.example.com";

    /// <summary>
    /// A current store put back to what the first build of migration 11 (route_cors alone) and of migration 12
    /// (web_sessions with one index, web_keys) left, after a later build applied migration 13.
    /// </summary>
    private const string FirstFormsOf11And12 = """
        DROP TABLE route_auth;
        DROP TABLE user_identities;
        DROP INDEX web_sessions_subject;
        DROP TABLE attempt_counts;
        DROP TABLE admin_audit;
        DELETE FROM schema_migrations WHERE version >= 14;
        """;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task InitializeAsync_StoreMigratedByFirstFormsOf11And12_CreatesWhatTheyLackedAndKeepsRows(string engine)
    {
        // Arrange
        var created = await engines.CreateAsync(engine);
        Assert.Equal(0, (await created.CliAsync("upstreams", "create", "--name", "backend", "--url", "http://127.0.0.1:9")).ExitCode);
        Assert.Equal(0, (await created.CliAsync("routes", "create", "--name", "data", "--path", "/api/", "--upstream", "backend")).ExitCode);
        Assert.Equal(0, (await created.CliAsync("users", "create", "--email", "alice@example.com")).ExitCode);
        await created.RunScriptAsync(FirstFormsOf11And12);

        // Act
        await using var upgraded = GatewayStores.Create(engine, created.Dsn, new SecretProtector(null));
        await upgraded.InitializeAsync(None);
        var routes = await upgraded.ListRoutesAsync(None);
        var user = await upgraded.FindUserAsync("alice@example.com", None);
        await upgraded.LinkIdentityAsync(new UserIdentity { Issuer = Issuer, Subject = "sub-1", UserId = user!.Id, CreatedAt = T0 }, configuration: false, None);
        var linked = await upgraded.FindUserByIdentityAsync(Issuer, "sub-1", None);
        await upgraded.AddAdminAuditAsync(new AdminAuditRecord(0, T0, "POST", "/users", 201, "adm_1", "ops", "127.0.0.1", ""), None);
        var audit = await upgraded.ListAdminAuditAsync(10, None);
        var attempt = await upgraded.AddAttemptAsync("login:1", T0, TimeSpan.FromMinutes(15), None);
        var sessionIndex = await created.IndexExistsAsync("web_sessions_subject");
        var list = await created.CliAsync("routes", "list");

        // Assert
        Assert.Equal((14, "tables missing from early builds of migrations 11 and 12"), upgraded.MigrationsApplied[0]);
        Assert.Equal(Enumerable.Range(14, upgraded.SchemaVersion - 13), upgraded.MigrationsApplied.Select(m => m.Version)); // and every later one
        Assert.Equal([("data", AuthScheme.Key)], routes.Select(r => (r.Name, r.AuthScheme)));
        Assert.Equal(user.Id, linked?.Id);
        Assert.Equal([("/users", "ops")], audit.Select(a => (a.Path, a.TokenName)));
        Assert.Equal(1, attempt.Count);
        Assert.True(sessionIndex);
        Assert.Equal(0, list.ExitCode);
        Assert.Contains("/api/", list.Output, StringComparison.Ordinal);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task InitializeAsync_StoreWithFullFormsOf11And12_Migration14KeepsTheirRows(string engine)
    {
        // Arrange: a store that has every table of 11 and 12, with rows in them, and migration 14 not yet recorded
        var created = await engines.CreateAsync(engine);
        Assert.Equal(0, (await created.CliAsync("users", "create", "--email", "alice@example.com")).ExitCode);
        var user = await created.Store.FindUserAsync("alice@example.com", None);
        await created.Store.LinkIdentityAsync(new UserIdentity { Issuer = Issuer, Subject = "sub-1", UserId = user!.Id, CreatedAt = T0 }, configuration: false, None);
        await created.Store.AddAdminAuditAsync(new AdminAuditRecord(0, T0, "POST", "/users", 201, "adm_1", "ops", "127.0.0.1", "kept"), None);
        await created.Store.AddAttemptAsync("login:1", T0, TimeSpan.FromMinutes(15), None);
        await created.RunScriptAsync("DELETE FROM schema_migrations WHERE version = 14");

        // Act
        await using var upgraded = GatewayStores.Create(engine, created.Dsn, new SecretProtector(null));
        await upgraded.InitializeAsync(None);
        var linked = await upgraded.FindUserByIdentityAsync(Issuer, "sub-1", None);
        var audit = await upgraded.ListAdminAuditAsync(10, None);
        var attempt = await upgraded.GetAttemptCountAsync("login:1", None);

        // Assert
        Assert.Equal([14], upgraded.MigrationsApplied.Select(m => m.Version));
        Assert.Equal(user.Id, linked?.Id);
        Assert.Equal(["kept"], audit.Select(a => a.Note));
        Assert.Equal(1, attempt?.Count);
    }
}
