namespace ApiGate.Core.Billing;

/// <summary>
/// Which subscription event wins when the provider delivers them late or out of order (docs/billing.md): a pure rule
/// over the stored state and the event, decided by the subscription's own timestamps and state, never by arrival order.
/// </summary>
public static class SubscriptionOrdering
{
    /// <summary>Subscription states that never come back: an event saying otherwise about the same subscription is stale.</summary>
    public static bool IsEnded(string status) => status is "canceled" or "incomplete_expired";

    /// <summary>Statuses in which the subscriber has paid for the plan.</summary>
    public static bool IsPaying(string status) => status is "active" or "trialing";

    /// <summary>
    /// Null when the event should be applied; otherwise why it is ignored. Rules, in order:
    /// 1. no subscription recorded yet: apply;
    /// 2. another subscription than the recorded one: apply only if it was created later (a newer subscription
    ///    supersedes an older one; an older one's events never override it);
    /// 3. the same subscription: ignore once it has ended (ended subscriptions do not come back), and ignore an event
    ///    created before the newest one applied (stale); events created in the same second apply in arrival order.
    /// </summary>
    public static string? WhyIgnored(BillingCustomer? current, string subscriptionId, long subscriptionCreated, long eventCreated)
    {
        if (current is null || current.SubscriptionId.Length == 0)
        {
            return null;
        }

        if (!string.Equals(current.SubscriptionId, subscriptionId, StringComparison.Ordinal))
        {
            return subscriptionCreated > current.SubscriptionCreated
                ? null
                : $"subscription {subscriptionId} is older than the user's current subscription {current.SubscriptionId}";
        }

        if (IsEnded(current.SubscriptionStatus))
        {
            return $"subscription {subscriptionId} has already ended";
        }

        return eventCreated < current.LastEventCreated ? $"stale: a newer event about subscription {subscriptionId} was applied" : null;
    }
}
