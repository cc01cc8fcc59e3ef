using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using static ApiGate.Gateway.Tests.Storage.ConcurrentUpdateTests;

namespace ApiGate.Gateway.Tests.Storage;

/// <summary>
/// What holds across all plans (one default plan, a Stripe price naming one plan) still holds when plans are written at
/// the same time, through this instance or another one sharing the store.
/// </summary>
public sealed class ConcurrentPlanWriteTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private const int Rounds = 5;

    private const int Writers = 6;

    private static readonly CancellationToken None = CancellationToken.None;

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreatePlan_SeveralDefaultsAtOnce_ExactlyOneDefault(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var plans = new PlanService(store, TimeProvider.System);

        for (var round = 1; round <= Rounds; round++)
        {
            // Act
            var results = await Task.WhenAll(Enumerable.Range(1, Writers).Select(writer =>
                Task.Run(() => plans.CreateAsync(new PlanInput { Id = $"r{round}-w{writer}", Name = $"R{round} W{writer}", IsDefault = true }, None))));

            // Assert
            Assert.All(results, r => Assert.True(r.Ok, r.Error?.ToString()));
            var defaults = (await store.ListPlansAsync(None)).Where(p => p.IsDefault).Select(p => p.Id).ToList();
            Assert.True(defaults.Count == 1, $"round {round}: default plans {string.Join(", ", defaults)}");
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdatePlan_SeveralMadeDefaultAtOnce_ExactlyOneDefault(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var plans = new PlanService(store, TimeProvider.System);
        for (var writer = 1; writer <= Writers; writer++)
        {
            Assert.True((await plans.CreateAsync(new PlanInput { Id = $"p{writer}", Name = $"P{writer}" }, None)).Ok);
        }

        for (var round = 1; round <= Rounds; round++)
        {
            Assert.True((await plans.UpdateAsync("free", new PlanInput { IsDefault = true }, None)).Ok);

            // Act
            var results = await Task.WhenAll(Enumerable.Range(1, Writers).Select(writer =>
                Task.Run(() => plans.UpdateAsync($"p{writer}", new PlanInput { IsDefault = true }, None))));

            // Assert
            Assert.All(results, r => Assert.True(r.Ok, r.Error?.ToString()));
            var defaults = (await store.ListPlansAsync(None)).Where(p => p.IsDefault).Select(p => p.Id).ToList();
            Assert.True(defaults.Count == 1, $"round {round}: default plans {string.Join(", ", defaults)}");
        }
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task CreatePlan_SamePriceGivenToAnotherPlanMeanwhile_ConflictNamingIt(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var other = new PlanService(store, TimeProvider.System);
        var plans = new PlanService(InterferingStore.Wrap(store, "CreatePlanAsync", async _ =>
            Assert.True((await other.CreateAsync(new PlanInput { Id = "team", Name = "Team", StripePriceId = "price_pro" }, None)).Ok)), TimeProvider.System);

        // Act
        var result = await plans.CreateAsync(new PlanInput { Id = "pro", Name = "Pro", StripePriceId = "price_pro" }, None);

        // Assert
        Assert.Equal(ManagementErrorKind.Conflict, result.Error?.Kind);
        Assert.Equal(("stripe_price_id", "stripe_price_id 'price_pro' is plan 'team''s already: a Stripe price must name one plan (its subscription events say only the price)"),
            (result.Error!.Field, result.Error.Message));
        Assert.Null(await store.FindPlanAsync("pro", None));
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task UpdatePlan_SamePriceGivenToAnotherPlanMeanwhile_ConflictAndPriceUnchanged(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var other = new PlanService(store, TimeProvider.System);
        Assert.True((await other.CreateAsync(new PlanInput { Id = "pro", Name = "Pro" }, None)).Ok);
        Assert.True((await other.CreateAsync(new PlanInput { Id = "team", Name = "Team" }, None)).Ok);
        var plans = new PlanService(InterferingStore.Wrap(store, "UpdatePlanAsync", async _ =>
            Assert.True((await other.UpdateAsync("team", new PlanInput { StripePriceId = "price_pro" }, None)).Ok)), TimeProvider.System);

        // Act
        var result = await plans.UpdateAsync("pro", new PlanInput { StripePriceId = "price_pro" }, None);

        // Assert
        Assert.Equal((ManagementErrorKind.Conflict, "stripe_price_id"), (result.Error?.Kind, result.Error?.Field));
        Assert.Equal("", (await store.FindPlanAsync("pro", None))!.StripePriceId);
    }
}
