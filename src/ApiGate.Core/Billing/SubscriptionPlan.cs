using ApiGate.Core.Identity;

namespace ApiGate.Core.Billing;

/// <summary>
/// Which plan a provider's subscription is for, from the prices it carries (docs/billing.md): a pure rule over the plans,
/// so a renewal, a plan change made in the provider's billing portal and an operator's price change are all read alike.
/// </summary>
public static class SubscriptionPlan
{
    /// <summary>
    /// The plan of a subscription with <paramref name="priceIds"/>, started for <paramref name="startedFor"/> (the
    /// <c>apigate_plan</c> metadata the gateway gave it; empty when unknown), or null when no plan is its:
    /// <list type="number">
    /// <item>the plan whose <see cref="PlanDefinition.StripePriceId"/> is one of the prices (one plan per price);</item>
    /// <item>else, when the subscription carries one price only, the plan sold with that metered price alone (no
    /// <see cref="PlanDefinition.StripePriceId"/>, and it as its <see cref="PlanDefinition.StripeOveragePriceId"/>; one
    /// such plan per price, too);</item>
    /// <item>else the plan it was started for, when that plan has no monthly Stripe price (its metered price was
    /// removed, or a paid plan's monthly price was, to stop selling it: nothing else can claim the subscription, whose
    /// customer still pays what they subscribed to) or carries the subscription's metered price (it has been given a
    /// monthly price since): its subscribers stay on it until the operator changes their subscription.</item>
    /// </list>
    /// </summary>
    public static PlanDefinition? Find(IReadOnlyList<PlanDefinition> plans, IReadOnlyList<string> priceIds, string startedFor)
    {
        foreach (var price in priceIds)
        {
            foreach (var plan in plans)
            {
                if (plan.StripePriceId.Length > 0 && string.Equals(plan.StripePriceId, price, StringComparison.Ordinal))
                {
                    return plan;
                }
            }
        }

        // Only a subscription of the metered price alone is one sold with it alone: a subscription that also carries a
        // price no plan has (a monthly price the operator has since replaced on its paid plan, which shares the metered
        // price) is that paid plan's, found below by what it was started for, not the free plan's.
        if (priceIds.Count > 0 && priceIds.All(price => price.Length > 0 && string.Equals(price, priceIds[0], StringComparison.Ordinal)))
        {
            foreach (var plan in plans)
            {
                if (plan.StripePriceId.Length == 0 && string.Equals(plan.StripeOveragePriceId, priceIds[0], StringComparison.Ordinal))
                {
                    return plan;
                }
            }
        }

        if (startedFor.Length == 0 || priceIds.Count == 0)
        {
            return null;
        }

        foreach (var plan in plans)
        {
            if (string.Equals(plan.Id, startedFor, StringComparison.Ordinal)
                && (plan.StripePriceId.Length == 0 || (plan.StripeOveragePriceId.Length > 0 && priceIds.Contains(plan.StripeOveragePriceId, StringComparer.Ordinal))))
            {
                return plan;
            }
        }

        return null;
    }
}
