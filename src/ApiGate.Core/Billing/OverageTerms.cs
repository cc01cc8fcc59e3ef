namespace ApiGate.Core.Billing;

/// <summary>
/// What happens to a user's requests past the quota of their plan (docs/billing.md), as
/// <see cref="SubscriptionOrdering.OverageOf"/> decides it from the plan and the user's billing customer.
/// </summary>
public enum OverageTerms
{
    /// <summary>The plan has no overage price: requests past the quota get 402.</summary>
    None,

    /// <summary>The plan has an overage price and no Stripe price for it: let through, the operator bills it from the usage reports.</summary>
    Operator,

    /// <summary>The plan bills its overage through Stripe and the user's subscription is paying: let through and reported to Stripe.</summary>
    Billed,

    /// <summary>The plan bills its overage through Stripe and the user has no paying subscription: refused at the quota (402) while billing is on.</summary>
    Refused,
}
