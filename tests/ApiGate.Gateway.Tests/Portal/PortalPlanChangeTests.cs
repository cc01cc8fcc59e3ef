using ApiGate.Core.Billing;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ApiGate.Gateway.Tests.Portal;

/// <summary>
/// A customer's own plan change against an operator changing that plan at the same moment, on every engine: the plan is
/// changed between the portal's check and its write — by the plan-request count the service takes in between, so no
/// timing is involved — and the write must refuse, answering as the check answers the plan as it is then.
/// </summary>
public sealed class PortalPlanChangeTests(StoreEngines engines) : IClassFixture<StoreEngines>
{
    private static readonly CancellationToken None = CancellationToken.None;
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 30, 9, 0, 0, TimeSpan.Zero));

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ChangeAsync_PlanHiddenAfterTheCheck_RefusedAsAHiddenPlanAndUserKeepsTheirPlan(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await UserOnFreeAsync(store);
        var starter = await StarterAsync(store);
        var portal = Portal(store, () => store.UpdatePlanAsync(starter with { Visible = false, UpdatedAt = starter.UpdatedAt.AddSeconds(1) }, starter.UpdatedAt, None));

        // Act
        var result = await portal.ChangeAsync(user, "starter", None);

        // Assert: the answer a plan hidden before the check gets
        Assert.Equal(PortalResult.Refused("That plan is not offered."), result);
        Assert.Equal(result, await Portal(store, null).ChangeAsync(user, "starter", None));
        Assert.Equal("free", (await store.FindUserAsync(user.Id, None))!.PlanId);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ChangeAsync_PlanPricedAfterTheCheck_RefusedAsAPricedPlanAndUserKeepsTheirPlan(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await UserOnFreeAsync(store);
        var starter = await StarterAsync(store);
        var portal = Portal(store, () => store.UpdatePlanAsync(starter with { PriceMonthly = 900, UpdatedAt = starter.UpdatedAt.AddSeconds(1) }, starter.UpdatedAt, None));

        // Act
        var result = await portal.ChangeAsync(user, "starter", None);

        // Assert
        Assert.Equal(PortalResult.Refused("Starter cannot be chosen here. Please contact the operator to change plans."), result);
        Assert.Equal(result, await Portal(store, null).ChangeAsync(user, "starter", None));
        Assert.Equal("free", (await store.FindUserAsync(user.Id, None))!.PlanId);
    }

    [Theory, EngineData(GatewayStores.Sqlite), EngineData(GatewayStores.Postgres)]
    public async Task ChangeAsync_PlanUnchangedMeanwhile_UserMoved(string engine)
    {
        // Arrange
        var store = (await engines.CreateAsync(engine)).Store;
        var user = await UserOnFreeAsync(store);
        await StarterAsync(store);

        // Act
        var result = await Portal(store, null).ChangeAsync(user, "starter", None);

        // Assert
        Assert.Equal(PortalResult.Success("You are now on Starter."), result);
        Assert.Equal("starter", (await store.FindUserAsync(user.Id, None))!.PlanId);
    }

    private async Task<UserDefinition> UserOnFreeAsync(IGatewayStore store) =>
        (await new UserService(store, _clock).CreateAsync(new UserChanges { Email = "customer@example.com", Plan = "free" }, None)).Value!;

    private async Task<PlanDefinition> StarterAsync(IGatewayStore store)
    {
        await store.CreatePlanAsync(new PlanDefinition
        {
            Id = "starter", Name = "Starter", Visible = true, RequestsPerMonth = 5000, CreatedAt = _clock.GetUtcNow(), UpdatedAt = _clock.GetUtcNow(),
        }, None);
        return (await store.FindPlanAsync("starter", None))!;
    }

    /// <summary>The portal's plan service; <paramref name="betweenCheckAndWrite"/> runs when it counts the request, after its check of the plan and before its write.</summary>
    private PortalPlanService Portal(IGatewayStore store, Func<Task>? betweenCheckAndWrite)
    {
        var billing = new BillingService(null, store, store, _clock, PaymentFailedAction.Suspend);
        var counted = HookedStore.Wrap(store, nameof(IGatewayStore.AddAttemptAsync), betweenCheckAndWrite).Store;
        return new PortalPlanService(store, new PortalOptions { Enabled = true }, billing, new Identity.AttemptCounter(counted, _clock), _clock,
            NullLogger<PortalPlanService>.Instance);
    }
}
