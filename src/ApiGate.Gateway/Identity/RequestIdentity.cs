using ApiGate.Core.Identity;
using ApiGate.Gateway.Snapshots;

namespace ApiGate.Gateway.Identity;

/// <summary>
/// Who is calling: the authenticated key, its owner and the owner's plan (for one snapshot; cached with the key). A JWT
/// caller carries a credential record of its own in place of a key (id <c>jwt_{user id}</c>, never stored).
/// </summary>
/// <param name="Unsubscribed">
/// Billing is on and the owner has no paying subscription (read with the key, so it changes when the store's identity
/// version does: a subscription's start and end move it). Such an owner gets no overage on a plan that bills its overage
/// through the provider (<see cref="AllowsOverage"/>).
/// </param>
internal sealed record RequestIdentity(ApiKeyDefinition Key, UserDefinition User, PlanRuntime Plan, bool Unsubscribed = false)
{
    /// <summary>
    /// Whether requests past the quota are let through as overage: the plan has an overage price, and whoever bills it
    /// will — the operator from usage reports (the plan has no provider price for it, or billing is off), or the provider
    /// through the owner's paying subscription. Anyone else is held to the quota (402), as on a plan without overage.
    /// </summary>
    public bool AllowsOverage => Plan.AllowsOverage && !(Unsubscribed && Plan.BillsOverageThroughProvider);
}
