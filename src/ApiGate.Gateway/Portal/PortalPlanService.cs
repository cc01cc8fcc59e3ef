using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;

namespace ApiGate.Gateway.Portal;

/// <summary>
/// The plans a customer sees (enabled and marked visible) and the plan changes the portal makes itself: without a
/// billing provider, only to a free plan (price 0) and only when <c>APIGATE_PORTAL_PLAN_CHANGE=free</c>; with one, none
/// (the change goes through <see cref="IPortalBilling.CheckoutPath"/>).
/// </summary>
internal sealed class PortalPlanService(IGatewayStore store, PortalOptions options, IPortalBilling billing, TimeProvider timeProvider)
{
    /// <summary>Plans offered on the plan page: enabled and visible, cheapest first.</summary>
    public async Task<IReadOnlyList<PlanDefinition>> VisiblePlansAsync(CancellationToken ct) =>
        (await store.ListPlansAsync(ct)).Where(p => p.Enabled && p.Visible).OrderBy(p => p.PriceMonthly).ThenBy(p => p.Name, StringComparer.Ordinal).ToList();

    /// <summary>Whether the portal itself may move a user to <paramref name="plan"/> (the page shows the button only then).</summary>
    public bool CanChangeDirectly(PlanDefinition plan) =>
        !billing.IsConfigured && options.PlanChange == PortalPlanChange.Free && plan.PriceMonthly == 0 && plan.Enabled && plan.Visible;

    /// <summary>Moves the user to the plan if <see cref="CanChangeDirectly"/> allows it.</summary>
    public async Task<PortalResult> ChangeAsync(UserDefinition user, string? planId, CancellationToken ct)
    {
        var plan = string.IsNullOrWhiteSpace(planId) || planId.Length > 100 ? null : await store.FindPlanAsync(planId.Trim(), ct);
        if (plan is null || !plan.Enabled || !plan.Visible)
        {
            return PortalResult.Refused("That plan is not offered.");
        }

        if (plan.Id == user.PlanId)
        {
            return PortalResult.Success($"You are on {plan.Name} already.");
        }

        if (!CanChangeDirectly(plan))
        {
            return PortalResult.Refused(billing.IsConfigured
                ? "Paid plans are changed through checkout."
                : $"{plan.Name} cannot be chosen here. Please contact the operator to change plans.");
        }

        var result = await new UserService(store, timeProvider).UpdateAsync(user.Id, new UserChanges { Plan = plan.Id }, ct);
        return result.Ok ? PortalResult.Success($"You are now on {plan.Name}.") : PortalResult.Refused(result.Error!.Message);
    }
}
