using System.Reflection;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// Updates of different fields of one route, upstream, user, plan, entitlement or webhook endpoint sent at the same
/// time all land: an update whose row changed between its read and its write is applied again to the new row instead
/// of overwriting it with the old copy, and one that keeps losing is a conflict, never a success whose change is missing.
/// </summary>
public sealed class ConcurrentUpdateTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const int Rounds = 10;

    private const int PairRounds = 20;

    private const int Crowd = 24;

    private const int CrowdRounds = 5;

    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RouteUpdates_ThreeFieldsAtOnce_EveryChangeKept(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var upstreams = new UpstreamService(store, TimeProvider.System);
        var routes = new RouteService(store, TimeProvider.System);
        Assert.True((await upstreams.CreateAsync(new UpstreamChanges { Name = "backend", Url = new Uri("http://127.0.0.1:1") }, CancellationToken.None)).Ok);
        Assert.True((await routes.CreateAsync(new RouteChanges { Name = "users", Path = "/users/*", Upstream = "backend" }, CancellationToken.None)).Ok);

        for (var round = 1; round <= Rounds; round++)
        {
            // Act
            var results = await Task.WhenAll(
                Task.Run(() => routes.UpdateAsync("users", new RouteChanges { Description = $"d{round}" }, CancellationToken.None)),
                Task.Run(() => routes.UpdateAsync("users", new RouteChanges { Priority = round }, CancellationToken.None)),
                Task.Run(() => routes.UpdateAsync("users", new RouteChanges { PathRewrite = $"/v{round}/$1" }, CancellationToken.None)));

            // Assert
            Assert.All(results, r => Assert.True(r.Ok, r.Error?.ToString()));
            var route = (await store.FindRouteAsync("users", CancellationToken.None))!;
            Assert.Equal(($"d{round}", round, $"/v{round}/$1"), (route.Description, route.Priority, route.PathRewrite));
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpstreamUpdates_TwoFieldsAtOnce_EveryChangeKept(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var upstreams = new UpstreamService(store, TimeProvider.System);
        Assert.True((await upstreams.CreateAsync(new UpstreamChanges { Name = "backend", Url = new Uri("http://127.0.0.1:1") }, CancellationToken.None)).Ok);

        for (var round = 1; round <= Rounds; round++)
        {
            // Act
            var results = await Task.WhenAll(
                Task.Run(() => upstreams.UpdateAsync("backend", new UpstreamChanges { Description = $"d{round}" }, CancellationToken.None)),
                Task.Run(() => upstreams.UpdateAsync("backend", new UpstreamChanges { MaxConns = round }, CancellationToken.None)));

            // Assert
            Assert.All(results, r => Assert.True(r.Ok, r.Error?.ToString()));
            var upstream = (await store.FindUpstreamAsync("backend", CancellationToken.None))!;
            Assert.Equal(($"d{round}", round), (upstream.Description, upstream.MaxConns));
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UserUpdates_StatusAndPlanAtOnce_NoSuccessLost(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var plans = new PlanService(store, TimeProvider.System);
        var users = new UserService(store, TimeProvider.System);
        Assert.True((await plans.CreateAsync(new PlanInput { Name = "p1" }, None)).Ok);
        Assert.True((await plans.CreateAsync(new PlanInput { Name = "p2" }, None)).Ok);
        Assert.True((await users.CreateAsync(new UserChanges { Email = "a@example.com", Plan = "p1" }, None)).Ok);

        // Act + Assert: two updates at once, round after round
        await RunPairsAsync(
            round => users.UpdateAsync("a@example.com", new UserChanges { Status = StatusIn(round) }, None),
            round => users.UpdateAsync("a@example.com", new UserChanges { Plan = PlanIn(round) }, None),
            async round =>
            {
                var user = (await store.FindUserAsync("a@example.com", None))!;
                return [user.Status == StatusIn(round), user.PlanId == PlanIn(round)];
            });
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UserUpdates_ClockStandingStill_NoSuccessLost(string engine)
    {
        // Arrange: every update stores the same clock time, so only a changed updated_at tells a newer row from the one read
        var store = (await engines.CreateAsync(engine)).Store;
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var users = new UserService(store, clock);
        Assert.True((await new PlanService(store, clock).CreateAsync(new PlanInput { Name = "p1", IsDefault = true }, None)).Ok);
        Assert.True((await users.CreateAsync(new UserChanges { Email = "a@example.com" }, None)).Ok);

        // Act + Assert: two updates at once, round after round
        await RunPairsAsync(
            round => users.UpdateAsync("a@example.com", new UserChanges { Status = StatusIn(round) }, None),
            round => users.UpdateAsync("a@example.com", new UserChanges { Name = $"n{round}" }, None),
            async round =>
            {
                var user = (await store.FindUserAsync("a@example.com", None))!;
                return [user.Status == StatusIn(round), user.Name == $"n{round}"];
            });
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task PlanUpdates_TwoFieldsAtOnce_NoSuccessLost(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var plans = new PlanService(store, TimeProvider.System);
        Assert.True((await plans.CreateAsync(new PlanInput { Name = "basic" }, None)).Ok);

        // Act + Assert: two updates at once, round after round
        await RunPairsAsync(
            round => plans.UpdateAsync("basic", new PlanInput { Enabled = EnabledIn(round) }, None),
            round => plans.UpdateAsync("basic", new PlanInput { RateLimitPerMinute = round }, None),
            async round =>
            {
                var plan = (await store.FindPlanAsync("basic", None))!;
                return [plan.Enabled == EnabledIn(round), plan.RateLimitPerMinute == round];
            });
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task EntitlementUpdates_TwoFieldsAtOnce_NoSuccessLost(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var entitlements = new EntitlementService(store, TimeProvider.System);
        Assert.True((await entitlements.CreateAsync(new EntitlementChanges { Name = "exports" }, None)).Ok);

        // Act + Assert: two updates at once, round after round
        await RunPairsAsync(
            round => entitlements.UpdateAsync("exports", new EntitlementChanges { Enabled = EnabledIn(round) }, None),
            round => entitlements.UpdateAsync("exports", new EntitlementChanges { Description = $"d{round}" }, None),
            async round =>
            {
                var entitlement = (await store.FindEntitlementAsync("exports", None))!;
                return [entitlement.Enabled == EnabledIn(round), entitlement.Description == $"d{round}"];
            });
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task WebhookUpdates_TwoFieldsAtOnce_NoSuccessLost(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var webhooks = new WebhookService(store, TimeProvider.System);
        var created = await webhooks.CreateAsync(new WebhookInput { Url = "http://127.0.0.1:19701/hook", Events = ["user.created"] }, None);
        Assert.True(created.Ok, created.Error?.ToString());
        var id = created.Value!.Endpoint.Id;

        // Act + Assert: two updates at once, round after round
        await RunPairsAsync(
            round => webhooks.UpdateAsync(id, new WebhookInput { Enabled = EnabledIn(round) }, None),
            round => webhooks.UpdateAsync(id, new WebhookInput { Description = $"d{round}" }, None),
            async round =>
            {
                var endpoint = (await store.FindWebhookEndpointAsync(id, None))!;
                return [endpoint.Enabled == EnabledIn(round), endpoint.Description == $"d{round}"];
            });
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RouteUpdates_TwentyFourAtOnce_AtMostOneInTenRefusedAsAConflict_NoSuccessLost(string engine)
    {
        // Arrange: retried at once, 24 updates of one row let through a handful each round and refused about half
        var store = (await engines.CreateAsync(engine)).Store;
        var upstreams = new UpstreamService(store, TimeProvider.System);
        var routes = new RouteService(store, TimeProvider.System);
        Assert.True((await upstreams.CreateAsync(new UpstreamChanges { Name = "backend", Url = new Uri("http://127.0.0.1:1") }, None)).Ok);
        Assert.True((await routes.CreateAsync(new RouteChanges { Name = "users", Path = "/users/*", Upstream = "backend" }, None)).Ok);
        var conflicts = 0;

        for (var round = 1; round <= CrowdRounds; round++)
        {
            // Act: 24 updates, each with its own value, released together
            var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var updates = Enumerable.Range(0, Crowd).Select(i => Task.Run(async () =>
            {
                await start.Task;
                return await routes.UpdateAsync("users", new RouteChanges { Description = $"r{round}-{i}" }, None);
            })).ToList();
            start.SetResult();
            var results = await Task.WhenAll(updates);

            // Assert: each refused one is a conflict, and the value stored is one that was reported stored
            Assert.All(results, r => Assert.True(r.Ok || r.Error!.Kind == ManagementErrorKind.Conflict, r.Error?.ToString()));
            var stored = (await store.FindRouteAsync("users", None))!.Description;
            Assert.Contains(stored, results.Where(r => r.Ok).Select(r => r.Value!.Description));
            conflicts += results.Count(r => !r.Ok);
        }

        Assert.True(conflicts <= CrowdRounds * Crowd / 10, $"{conflicts} of {CrowdRounds * Crowd} updates refused as conflicts");
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task PlanUpdate_SeededPlanStoredInAnotherTimeFormat_Stored(string engine)
    {
        // Arrange: the migration seeds 'free' with an updated_at written by the database, not in the store's own format
        var store = (await engines.CreateAsync(engine)).Store;
        var plans = new PlanService(store, TimeProvider.System);

        // Act
        var result = await plans.UpdateAsync("free", new PlanInput { Visible = true }, None);

        // Assert
        Assert.True(result.Ok, result.Error?.ToString());
        Assert.True((await store.FindPlanAsync("free", None))!.Visible);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdateUserAsync_RowChangedSinceRead_ThrowsAndWritesNothing(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var users = new UserService(store, TimeProvider.System);
        Assert.True((await new PlanService(store, TimeProvider.System).CreateAsync(new PlanInput { Name = "p1", IsDefault = true }, None)).Ok);
        Assert.True((await users.CreateAsync(new UserChanges { Email = "a@example.com" }, None)).Ok);
        var read = (await store.FindUserAsync("a@example.com", None))!;
        Assert.True((await users.UpdateAsync("a@example.com", new UserChanges { Status = UserStatus.Suspended }, None)).Ok);

        // Act
        var write = store.UpdateUserAsync(read with { Name = "stale", UpdatedAt = read.UpdatedAt.AddSeconds(1) }, read.UpdatedAt, None);

        // Assert
        var refused = await Assert.ThrowsAsync<StoreChangedMeanwhileException>(() => write);
        Assert.Contains("a@example.com", refused.Message);
        var stored = (await store.FindUserAsync("a@example.com", None))!;
        Assert.Equal((UserStatus.Suspended, ""), (stored.Status, stored.Name));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdatePlanAsync_AnotherPlanMadeDefaultSinceRead_ThrowsAndTheNewDefaultStands(string engine)
    {
        // Arrange: 'free' (the default) read for an update; meanwhile another plan becomes the default
        var store = (await engines.CreateAsync(engine)).Store;
        var plans = new PlanService(store, TimeProvider.System);
        Assert.True((await plans.CreateAsync(new PlanInput { Name = "pro" }, None)).Ok);
        var read = (await store.FindPlanAsync("free", None))!;
        Assert.True(read.IsDefault);
        Assert.True((await plans.UpdateAsync("pro", new PlanInput { IsDefault = true }, None)).Ok);

        // Act: the old copy of 'free', still marked default, written back
        var write = store.UpdatePlanAsync(read with { Name = "Free tier", UpdatedAt = read.UpdatedAt.AddSeconds(1) }, read.UpdatedAt, None);

        // Assert
        await Assert.ThrowsAsync<StoreChangedMeanwhileException>(() => write);
        Assert.True((await store.FindPlanAsync("pro", None))!.IsDefault);
        Assert.False((await store.FindPlanAsync("free", None))!.IsDefault);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UserServiceUpdateAsync_RowChangedBeforeEveryWrite_ConflictAndOtherChangeKept(string engine)
    {
        // Arrange: a store that lets another writer change the user between each read and write of the update
        var store = (await engines.CreateAsync(engine)).Store;
        var other = new UserService(store, TimeProvider.System);
        Assert.True((await new PlanService(store, TimeProvider.System).CreateAsync(new PlanInput { Name = "p1", IsDefault = true }, None)).Ok);
        Assert.True((await other.CreateAsync(new UserChanges { Email = "a@example.com" }, None)).Ok);
        var users = new UserService(InterferingStore.Wrap(store, "UpdateUserAsync", async n =>
            Assert.True((await other.UpdateAsync("a@example.com", new UserChanges { Name = $"other{n}" }, None)).Ok)), TimeProvider.System);

        // Act
        var result = await users.UpdateAsync("a@example.com", new UserChanges { Status = UserStatus.Suspended }, None);

        // Assert
        Assert.Equal(ManagementErrorKind.Conflict, result.Error?.Kind);
        Assert.Equal("the user 'a@example.com' was changed by another request at the same time; try again", result.Error!.Message);
        var stored = (await store.FindUserAsync("a@example.com", None))!;
        Assert.Equal((UserStatus.Active, $"other{ConflictBackOff.Attempts}"), (stored.Status, stored.Name));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task RouteServiceUpdateAsync_IfMatchAndRowChangedBetweenReadAndWrite_PreconditionFailedAndNotApplied(string engine)
    {
        // Arrange: the route is read with the tag the caller holds, then another writer changes it before the write
        var store = (await engines.CreateAsync(engine)).Store;
        var other = new RouteService(store, TimeProvider.System);
        Assert.True((await new UpstreamService(store, TimeProvider.System).CreateAsync(new UpstreamChanges { Name = "backend", Url = new Uri("http://127.0.0.1:1") }, None)).Ok);
        Assert.True((await other.CreateAsync(new RouteChanges { Name = "users", Path = "/users/*", Upstream = "backend" }, None)).Ok);
        var held = RowVersion.Tag((await store.FindRouteAsync("users", None))!.UpdatedAt);
        var routes = new RouteService(InterferingStore.WrapGateway(store, "UpdateRouteAsync", async n =>
        {
            if (n == 1)
            {
                Assert.True((await other.UpdateAsync("users", new RouteChanges { Description = "theirs" }, None)).Ok);
            }
        }), TimeProvider.System);

        // Act
        var result = await routes.UpdateAsync("users", new RouteChanges { Priority = 7 }, new RowCondition([held]), None);

        // Assert: the lost race is refused naming the version now stored, not applied again to the newer row
        var stored = (await store.FindRouteAsync("users", None))!;
        Assert.Equal(ManagementErrorKind.PreconditionFailed, result.Error?.Kind);
        Assert.Equal($"the route 'users' was changed since the version If-Match names: its ETag is now {RowVersion.Tag(stored.UpdatedAt)}; read it again and apply your change to that",
            result.Error!.Message);
        Assert.Equal(("theirs", 0), (stored.Description, stored.Priority));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UserServiceDeleteAsync_IfMatchAndRowChangedBetweenReadAndDelete_PreconditionFailedAndKept(string engine)
    {
        // Arrange: the user is read with the tag the caller holds, then another writer changes it before the delete
        var store = (await engines.CreateAsync(engine)).Store;
        var other = new UserService(store, TimeProvider.System);
        Assert.True((await new PlanService(store, TimeProvider.System).CreateAsync(new PlanInput { Name = "p1", IsDefault = true }, None)).Ok);
        Assert.True((await other.CreateAsync(new UserChanges { Email = "a@example.com" }, None)).Ok);
        var held = RowVersion.Tag((await store.FindUserAsync("a@example.com", None))!.UpdatedAt);
        var users = new UserService(InterferingStore.Wrap(store, "DeleteUserAsync", async n =>
        {
            if (n == 1)
            {
                Assert.True((await other.UpdateAsync("a@example.com", new UserChanges { Name = "theirs" }, None)).Ok);
            }
        }), TimeProvider.System);

        // Act
        var result = await users.DeleteAsync("a@example.com", new RowCondition([held]), None);

        // Assert
        Assert.Equal(ManagementErrorKind.PreconditionFailed, result.Error?.Kind);
        Assert.Equal("theirs", (await store.FindUserAsync("a@example.com", None))?.Name);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UserServiceUpdateAsync_IfMatchAnyAndRowChangedBetweenReadAndWrite_AppliedToTheNewerRow(string engine)
    {
        // Arrange: If-Match: * only asks that the user exists, so the update is applied again like one without a condition
        var store = (await engines.CreateAsync(engine)).Store;
        var other = new UserService(store, TimeProvider.System);
        Assert.True((await new PlanService(store, TimeProvider.System).CreateAsync(new PlanInput { Name = "p1", IsDefault = true }, None)).Ok);
        Assert.True((await other.CreateAsync(new UserChanges { Email = "a@example.com" }, None)).Ok);
        var users = new UserService(InterferingStore.Wrap(store, "UpdateUserAsync", async n =>
        {
            if (n == 1)
            {
                Assert.True((await other.UpdateAsync("a@example.com", new UserChanges { Name = "theirs" }, None)).Ok);
            }
        }), TimeProvider.System);

        // Act
        var result = await users.UpdateAsync("a@example.com", new UserChanges { Status = UserStatus.Suspended }, RowCondition.Any, None);

        // Assert
        Assert.True(result.Ok, result.Error?.ToString());
        var stored = (await store.FindUserAsync("a@example.com", None))!;
        Assert.Equal((UserStatus.Suspended, "theirs"), (stored.Status, stored.Name));
    }

    /// <summary>The status a round's update sets: suspended in odd rounds, active in even ones.</summary>
    private static UserStatus StatusIn(int round) => round % 2 == 1 ? UserStatus.Suspended : UserStatus.Active;

    /// <summary>Whether a round's update enables: in even rounds.</summary>
    private static bool EnabledIn(int round) => round % 2 == 0;

    /// <summary>The plan a round's update sets: p2 in odd rounds, p1 in even ones.</summary>
    private static string PlanIn(int round) => round % 2 == 1 ? "p2" : "p1";

    /// <summary>
    /// Runs two updates at once <see cref="PairRounds"/> times (each given the round) and after each round checks, with
    /// what <paramref name="stored"/> reads back, that no update reported success for a change the row does not hold.
    /// </summary>
    private static async Task RunPairsAsync<T>(
        Func<int, Task<ManagementResult<T>>> first, Func<int, Task<ManagementResult<T>>> second, Func<int, Task<bool[]>> stored)
    {
        for (var round = 1; round <= PairRounds; round++)
        {
            var results = await Task.WhenAll(Task.Run(() => first(round)), Task.Run(() => second(round)));
            AssertNoSuccessLost(round, results, await stored(round));
        }
    }

    /// <summary>
    /// Each update that reported success has its change in the stored row, and one that did not was refused as a
    /// conflict; at most one of the two is refused (the other one's write is what it lost to).
    /// </summary>
    private static void AssertNoSuccessLost<T>(int round, ManagementResult<T>[] results, params bool[] stored)
    {
        for (var i = 0; i < results.Length; i++)
        {
            if (results[i].Ok)
            {
                Assert.True(stored[i], $"round {round}: update {i + 1} succeeded but its change is not stored");
            }
            else
            {
                Assert.True(results[i].Error!.Kind == ManagementErrorKind.Conflict, $"round {round}: update {i + 1}: {results[i].Error}");
            }
        }

        Assert.True(results.Count(r => !r.Ok) <= 1, $"round {round}: both updates refused");
    }

    /// <summary>A store that runs another write before each call of one method, then passes the call on.</summary>
    public class InterferingStore : DispatchProxy
    {
        private object _inner = null!;
        private string _method = "";
        private Func<int, Task> _interfere = null!;
        private int _calls;

        public static IIdentityStore Wrap(IIdentityStore inner, string method, Func<int, Task> interfere) => Wrap<IIdentityStore>(inner, method, interfere);

        /// <summary>The same for the whole store (services of upstreams and routes).</summary>
        public static IGatewayStore WrapGateway(IGatewayStore inner, string method, Func<int, Task> interfere) => Wrap<IGatewayStore>(inner, method, interfere);

        private static T Wrap<T>(T inner, string method, Func<int, Task> interfere)
            where T : class
        {
            var proxy = Create<T, InterferingStore>();
            var self = (InterferingStore)(object)proxy;
            (self._inner, self._method, self._interfere) = (inner, method, interfere);
            return proxy;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod!.Name != _method)
            {
                return targetMethod.Invoke(_inner, args);
            }

            return targetMethod.ReturnType.IsGenericType
                ? typeof(InterferingStore).GetMethod(nameof(InterfereThenCallForResultAsync), BindingFlags.NonPublic | BindingFlags.Instance)!
                    .MakeGenericMethod(targetMethod.ReturnType.GetGenericArguments()[0]).Invoke(this, [targetMethod, args])
                : InterfereThenCallAsync(targetMethod, args);
        }

        private async Task InterfereThenCallAsync(MethodInfo targetMethod, object?[]? args)
        {
            await _interfere(Interlocked.Increment(ref _calls));
            await (Task)targetMethod.Invoke(_inner, args)!;
        }

        /// <summary>The same for a method that returns a <see cref="Task{TResult}"/>.</summary>
        private async Task<T> InterfereThenCallForResultAsync<T>(MethodInfo targetMethod, object?[]? args)
        {
            await _interfere(Interlocked.Increment(ref _calls));
            return await (Task<T>)targetMethod.Invoke(_inner, args)!;
        }
    }
}
