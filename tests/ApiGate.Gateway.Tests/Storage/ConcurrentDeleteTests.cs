using ApiGate.Core.Entitlements;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Dapper;
using static ApiGate.Gateway.Tests.Storage.ConcurrentEntitlementCapTests;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// A delete that races with a write making something refer to the deleted row (another instance re-points a route at
/// the upstream, puts a user on the plan, gives the user a key) ends exactly as when the other write came first: a
/// conflict naming what uses the row, or, for a user's key, the key deleted with the user; never a
/// <c>store_unavailable</c> carrying PostgreSQL's foreign-key message, nor a deadlock.
/// The other write is held open in a transaction of the test's own until the delete waits for its lock, then committed.
/// </summary>
public sealed class ConcurrentDeleteTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;

    [PostgresFact]
    public async Task DeleteUpstream_RouteRepointedAtItMeanwhile_ConflictNamingTheRoute()
    {
        // Arrange
        var engine = await engines.CreateAsync(GatewayStores.Postgres);
        var upstreams = new UpstreamService(engine.Store, TimeProvider.System);
        var routes = new RouteService(engine.Store, TimeProvider.System);
        Assert.True((await upstreams.CreateAsync(new UpstreamChanges { Name = "a", Url = new Uri("http://127.0.0.1:1") }, None)).Ok);
        var doomed = (await upstreams.CreateAsync(new UpstreamChanges { Name = "b", Url = new Uri("http://127.0.0.1:2") }, None)).Value!;
        Assert.True((await routes.CreateAsync(new RouteChanges { Name = "users", Path = "/users/*", Upstream = "a" }, None)).Ok);

        // Act
        var result = await DeleteWhileHeldAsync(engine,
            "UPDATE routes SET upstream_id = @Id WHERE slug = 'users'", new { doomed.Id },
            () => upstreams.DeleteAsync("b", None));

        // Assert
        Assert.Equal(ManagementErrorKind.Conflict, result.Kind);
        Assert.Equal("upstream is used by route(s) users: delete or re-point them first", result.Message);
        Assert.NotNull(await engine.Store.FindUpstreamAsync("b", None));
        Assert.Equal(doomed.Id, (await engine.Store.FindRouteAsync("users", None))!.UpstreamId);
    }

    [PostgresFact]
    public async Task DeletePlan_UserMovedOntoItMeanwhile_ConflictNamingTheUser()
    {
        // Arrange
        var engine = await engines.CreateAsync(GatewayStores.Postgres);
        var plans = new PlanService(engine.Store, TimeProvider.System);
        var users = new UserService(engine.Store, TimeProvider.System);
        Assert.True((await plans.CreateAsync(new PlanInput { Name = "p1" }, None)).Ok);
        Assert.True((await plans.CreateAsync(new PlanInput { Name = "p2" }, None)).Ok);
        Assert.True((await users.CreateAsync(new UserChanges { Email = "ada@example.com", Plan = "p1" }, None)).Ok);

        // Act
        var result = await DeleteWhileHeldAsync(engine,
            "UPDATE users SET plan_id = 'p2' WHERE email = 'ada@example.com'", null,
            () => plans.DeleteAsync("p2", None));

        // Assert
        Assert.Equal(ManagementErrorKind.Conflict, result.Kind);
        Assert.Equal("plan has users (ada@example.com): move them to another plan first", result.Message);
        Assert.NotNull(await engine.Store.FindPlanAsync("p2", None));
    }

    [PostgresFact]
    public async Task DeleteUser_KeyGivenToItMeanwhile_DeletedWithTheKey()
    {
        // Arrange
        var engine = await engines.CreateAsync(GatewayStores.Postgres);
        var users = new UserService(engine.Store, TimeProvider.System);
        var keys = new KeyService(engine.Store, TimeProvider.System);
        Assert.True((await new PlanService(engine.Store, TimeProvider.System).CreateAsync(new PlanInput { Name = "p1", IsDefault = true }, None)).Ok);
        Assert.True((await users.CreateAsync(new UserChanges { Email = "ada@example.com" }, None)).Ok);
        var doomed = (await users.CreateAsync(new UserChanges { Email = "bob@example.com" }, None)).Value!;
        var key = (await keys.CreateAsync(new KeyChanges { User = "ada@example.com" }, None)).Value!;
        await using var held = await engine.OpenRawAsync();
        await using var watcher = await engine.OpenRawAsync();
        await using var transaction = await held.BeginTransactionAsync();
        Assert.Equal(1, await held.ExecuteAsync("UPDATE api_keys SET user_id = @UserId WHERE id = @KeyId", new { UserId = doomed.Id, KeyId = key.Key.Id }, transaction));

        // Act: the delete waits for the write that gave the user a key, then removes the key with the user, as it
        // removes the keys the user had before
        var deleting = Task.Run(() => users.DeleteAsync("bob@example.com", None));
        await WaitForLockWaitsAsync(watcher, 1, deleting);
        await transaction.CommitAsync();
        var result = await deleting;

        // Assert
        Assert.True(result.Ok, result.Error?.ToString());
        Assert.Null(await engine.Store.FindUserAsync("bob@example.com", None));
        Assert.Null(await engine.Store.FindKeyAsync(key.Key.Id, None));
    }

    [PostgresFact]
    public async Task DeleteUser_KeyBeingCreatedForIt_DeletedWithTheKeyNoDeadlock()
    {
        // Arrange
        var engine = await engines.CreateAsync(GatewayStores.Postgres);
        var users = new UserService(engine.Store, TimeProvider.System);
        var doomed = (await users.CreateAsync(new UserChanges { Email = "bob@example.com", Plan = "free" }, None)).Value!;
        await using var held = await engine.OpenRawAsync();
        await using var watcher = await engine.OpenRawAsync();
        await using var transaction = await held.BeginTransactionAsync();
        // A key's INSERT part way: its foreign key check holds the user's row (FOR KEY SHARE), its statement trigger has
        // not yet moved identity_version.
        Assert.Equal(doomed.Id, await held.ExecuteScalarAsync<string>("SELECT id FROM users WHERE id = @Id FOR KEY SHARE", new { doomed.Id }, transaction));

        // Act
        var deleting = Task.Run(() => users.DeleteAsync("bob@example.com", None));
        await WaitForLockWaitsAsync(watcher, 1, deleting);
        await held.ExecuteAsync(
            "INSERT INTO api_keys (id, name, user_id, prefix, hash, created_at) VALUES ('key_held', '', @Id, 'ak_held', 'held', '2026-01-01T00:00:00+00:00')",
            new { doomed.Id }, transaction);
        await transaction.CommitAsync();
        var result = await deleting;

        // Assert
        Assert.True(result.Ok, result.Error?.ToString());
        Assert.Null(await engine.Store.FindUserAsync("bob@example.com", None));
        Assert.Null(await engine.Store.FindKeyAsync("key_held", None));
    }

    [PostgresFact]
    public async Task DeleteEntitlement_APlanValueOfItChangedMeanwhile_BothDoneWithoutADeadlock()
    {
        // Arrange: plan free's value for tier, its row held by a transaction of the test's own, so that the value's
        // change and the entitlement's delete both reach it before either has finished
        var engine = await engines.CreateAsync(GatewayStores.Postgres);
        var entitlements = new EntitlementService(engine.Store, TimeProvider.System);
        Assert.True((await entitlements.CreateAsync(new EntitlementChanges { Name = "tier", ValueType = EntitlementValueType.String }, None)).Ok);
        var value = (await new PlanEntitlementService(engine.Store, TimeProvider.System).CreateAsync(
            new PlanEntitlementInput { Plan = "free", Entitlement = "tier", Value = "silver" }, None)).Value!;
        await using var held = await engine.OpenRawAsync();
        await using var watcher = await engine.OpenRawAsync();
        await using var transaction = await held.BeginTransactionAsync();
        Assert.Equal(value.Id, await held.ExecuteScalarAsync<string>("SELECT id FROM plan_entitlements WHERE id = @Id FOR UPDATE", new { value.Id }, transaction));

        // Act: the value changed, then the entitlement deleted; then the row let go
        var changing = Task.Run(() => engine.Store.UpdatePlanEntitlementAsync(value.Id, "gold", null, None));
        await WaitForLockWaitsAsync(watcher, 1, changing);
        var deleting = Task.Run(() => entitlements.DeleteAsync("tier", None));
        await WaitForLockWaitsAsync(watcher, 2, deleting);
        await transaction.RollbackAsync();
        var changed = await changing;
        var deleted = await deleting;

        // Assert: one after the other, as if they had not overlapped: the change stored, then deleted with the entitlement
        Assert.Equal("gold", changed?.Value);
        Assert.True(deleted.Ok, deleted.Error?.ToString());
        Assert.Null(await engine.Store.FindEntitlementAsync("tier", None));
        Assert.Empty(await engine.Store.ListPlanEntitlementsAsync("free", None));
    }

    /// <summary>
    /// Runs <paramref name="heldSql"/> in an open transaction, starts <paramref name="delete"/>, waits (bounded) until the
    /// delete is blocked on that transaction's lock, commits, and returns the delete's error.
    /// </summary>
    private static async Task<ManagementError> DeleteWhileHeldAsync<T>(
        EngineStore engine, string heldSql, object? parameters, Func<Task<ManagementResult<T>>> delete)
    {
        await using var held = await engine.OpenRawAsync();
        await using var watcher = await engine.OpenRawAsync();
        await using var transaction = await held.BeginTransactionAsync();
        Assert.Equal(1, await held.ExecuteAsync(heldSql, parameters, transaction));

        var deleting = Task.Run(delete);
        await WaitForLockWaitsAsync(watcher, 1, deleting);
        await transaction.CommitAsync();

        var result = await deleting;
        Assert.False(result.Ok, "the delete went through although something refers to the row");
        return result.Error!;
    }
}
