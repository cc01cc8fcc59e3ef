using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// The same delete sent several times at once (a retried request, a double click, two operators) deletes the row
/// once and tells that to one caller only; the others are answered as a delete that comes after it is: not found.
/// </summary>
public sealed class ConcurrentSameDeleteTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const int Rounds = 4;

    private const int Deleters = 8;

    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task Delete_SameRowSeveralTimesAtOnce_OneSucceedsTheOthersNotFound(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var upstreams = new UpstreamService(store, TimeProvider.System);
        var routes = new RouteService(store, TimeProvider.System);
        var plans = new PlanService(store, TimeProvider.System);
        var users = new UserService(store, TimeProvider.System);
        var entitlements = new EntitlementService(store, TimeProvider.System);
        var planEntitlements = new PlanEntitlementService(store, TimeProvider.System);
        var webhooks = new WebhookService(store, TimeProvider.System);

        for (var round = 1; round <= Rounds; round++)
        {
            var upstream = (await upstreams.CreateAsync(new UpstreamChanges { Name = $"u{round}", Url = new Uri("http://127.0.0.1:9") }, None)).Value!.Id;
            var route = (await routes.CreateAsync(new RouteInput { Name = $"r{round}", Path = $"/r{round}" }.Parsed(), None)).Value!.Id;
            var plan = (await plans.CreateAsync(new PlanInput { Id = $"p{round}", Name = $"P{round}" }, None)).Value!.Id;
            var user = (await users.CreateAsync(new UserChanges { Email = $"u{round}@example.com" }, None)).Value!.Id;
            var entitlement = (await entitlements.CreateAsync(new EntitlementChanges { Name = $"e{round}" }, None)).Value!.Id;
            var assignment = (await planEntitlements.CreateAsync(new PlanEntitlementInput { Plan = "free", Entitlement = $"e{round}", Value = "true" }, None)).Value!.Id;
            var webhook = (await webhooks.CreateAsync(new WebhookInput { Url = "http://127.0.0.1:9/h", Events = ["key.created"] }, None)).Value!.Endpoint.Id;

            // Act
            var results = new Dictionary<string, IReadOnlyList<ManagementError?>>
            {
                ["upstream"] = await AllAtOnce(() => upstreams.DeleteAsync(upstream, None)),
                ["route"] = await AllAtOnce(() => routes.DeleteAsync(route, None)),
                ["plan"] = await AllAtOnce(() => plans.DeleteAsync(plan, None)),
                ["user"] = await AllAtOnce(() => users.DeleteAsync(user, None)),
                ["plan entitlement"] = await AllAtOnce(() => planEntitlements.DeleteAsync(assignment, None)),
                ["entitlement"] = await AllAtOnce(() => entitlements.DeleteAsync(entitlement, None)),
                ["webhook"] = await AllAtOnce(() => webhooks.DeleteAsync(webhook, None)),
            };

            // Assert
            foreach (var (kind, errors) in results)
            {
                Assert.True(errors.Count(e => e is null) == 1, $"round {round}, {kind}: {errors.Count(e => e is null)} of {Deleters} deletes succeeded");
                Assert.All(errors.Where(e => e is not null), e => Assert.Equal(ManagementErrorKind.NotFound, e!.Kind));
            }
        }
    }

    private static async Task<IReadOnlyList<ManagementError?>> AllAtOnce<T>(Func<Task<ManagementResult<T>>> delete)
    {
        using var start = new ManualResetEventSlim();
        var deletes = Enumerable.Range(0, Deleters).Select(_ => Task.Run(async () =>
        {
            start.Wait();
            return (await delete()).Error;
        })).ToList();
        start.Set();
        return await Task.WhenAll(deletes);
    }
}
