namespace ApiGate.Core.Billing;

/// <summary>
/// A user's billing state as an operator reads it (<c>GET /admin/users/{id}/billing</c>): their customer and
/// subscription at the billing provider, if any, and what their plan does with requests past the quota.
/// </summary>
/// <param name="UserId">The user's id.</param>
/// <param name="PlanId">The plan the user is on, which <paramref name="Overage"/> was decided for.</param>
/// <param name="BillingEnabled">Whether this gateway has a billing provider (<c>APIGATE_BILLING_PROVIDER</c>); the other fields are the stored state either way.</param>
/// <param name="CustomerId">The user's customer id at the provider; null when they are not a billing customer.</param>
/// <param name="SubscriptionId">Their current subscription's id; null when they have none.</param>
/// <param name="SubscriptionStatus">That subscription's status as last applied (<c>active</c>, <c>past_due</c>…); null when they have none.</param>
/// <param name="Paying">Whether the subscription is in a paying state (active or trialing).</param>
/// <param name="SuspendedByBilling">Whether the user was suspended for a failed payment (a paid subscription reactivates them).</param>
/// <param name="Overage">What the user gets past the quota (<see cref="SubscriptionOrdering.OverageOf"/>).</param>
public sealed record UserBilling(
    string UserId,
    string PlanId,
    bool BillingEnabled,
    string? CustomerId,
    string? SubscriptionId,
    string? SubscriptionStatus,
    bool Paying,
    bool SuspendedByBilling,
    OverageTerms Overage)
{
    /// <summary>The state of a user on <paramref name="plan"/> (null: a plan that no longer exists) whose billing customer is <paramref name="customer"/>.</summary>
    public static UserBilling Of(string userId, string planId, Identity.PlanDefinition? plan, BillingCustomer? customer, bool billingEnabled) =>
        new(userId, planId, billingEnabled,
            customer?.CustomerId,
            customer is { SubscriptionId.Length: > 0 } ? customer.SubscriptionId : null,
            customer is { SubscriptionId.Length: > 0 } ? customer.SubscriptionStatus : null,
            SubscriptionOrdering.IsPaying(customer),
            customer?.SuspendedByBilling ?? false,
            SubscriptionOrdering.OverageOf(plan, customer));
}
