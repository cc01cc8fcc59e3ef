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
    /// <item>else the plan sold with its metered price alone (no <see cref="PlanDefinition.StripePriceId"/>) whose
    /// <see cref="PlanDefinition.StripeOveragePriceId"/> is one of the prices (one such plan per price, too);</item>
    /// <item>else the plan it was started for, when that plan has no monthly Stripe price (its metered price was
    /// removed: nothing else can claim the subscription) or carries the subscription's metered price (it has been given
    /// a monthly price since): its subscribers stay on it until the operator changes their subscription.</item>
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

        foreach (var price in priceIds)
        {
            foreach (var plan in plans)
            {
                if (plan.StripePriceId.Length == 0 && string.Equals(plan.StripeOveragePriceId, price, StringComparison.Ordinal) && price.Length > 0)
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
