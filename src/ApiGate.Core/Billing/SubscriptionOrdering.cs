namespace ApiGate.Core.Billing;

/// <summary>
/// Which subscription event wins when the provider delivers them late or out of order (docs/billing.md): a pure rule
/// over the stored state and the event, decided by the subscription's own timestamps and state, never by arrival order.
/// </summary>
public static class SubscriptionOrdering
{
    /// <summary>Subscription states that never come back: an event saying otherwise about the same subscription is stale.</summary>
    public static bool IsEnded(string status) => status is "canceled" or "incomplete_expired";

    /// <summary>
    /// The status recorded (by this gateway, not the provider) for a subscription whose checkout's delayed payment failed:
    /// it does not count as the user's subscription, but its id stays so that late events about it are judged by the
    /// rules below (older ones are stale; the provider ending it, or a payment after all, still applies).
    /// </summary>
    public const string CheckoutPaymentFailed = "checkout_payment_failed";

    /// <summary>Whether <paramref name="customer"/> has a subscription that has not ended (paying, or past due and the like).</summary>
    public static bool HasLiveSubscription(BillingCustomer? customer) =>
        customer is { SubscriptionId.Length: > 0 } && !IsEnded(customer.SubscriptionStatus) && customer.SubscriptionStatus != CheckoutPaymentFailed;

    /// <summary>
    /// The provider's status of a subscription whose first payment has not been made (a checkout paid by a bank debit still
    /// clearing): its plan is not given until the payment is confirmed.
    /// </summary>
    public const string NeverPaid = "incomplete";

    /// <summary>Statuses in which the subscriber has paid for the plan.</summary>
    public static bool IsPaying(string status) => status is "active" or "trialing";

    /// <summary>
    /// Whether a subscription in <paramref name="status"/> has started: it is paying, or in a state only a paying one
    /// moves on to (a renewal's payment failed: <c>past_due</c>, <c>unpaid</c>; a trial ended without a card: <c>paused</c>).
    /// Not <c>incomplete</c>: its first payment has not come.
    /// </summary>
    public static bool HasStarted(string status) => IsPaying(status) || status is "past_due" or "unpaid" or "paused";

    /// <summary>Whether <paramref name="customer"/> has a subscription in a paying state (<see cref="IsPaying(string)"/>).</summary>
    public static bool IsPaying(BillingCustomer? customer) => customer is not null && IsPaying(customer.SubscriptionId, customer.SubscriptionStatus);

    /// <summary>Whether a customer's stored subscription (empty id: none) is in a paying state (<see cref="IsPaying(string)"/>).</summary>
    public static bool IsPaying(string subscriptionId, string subscriptionStatus) => subscriptionId.Length > 0 && IsPaying(subscriptionStatus);

    /// <summary>
    /// What a user on <paramref name="plan"/> whose billing customer is <paramref name="customer"/> (null: none) gets past
    /// the quota: the one rule the CLI, the admin API and the console show. A plan that bills its overage through Stripe
    /// (an overage price and a <c>stripe_overage_price_id</c>) lets only a paying subscriber past it, since nothing would
    /// bill anyone else's requests.
    /// </summary>
    public static OverageTerms OverageOf(Identity.PlanDefinition? plan, BillingCustomer? customer) => plan switch
    {
        null or { OveragePrice: <= 0 } => OverageTerms.None,
        _ when !BillsOverageThroughProvider(plan) => OverageTerms.Operator,
        _ => IsPaying(customer) ? OverageTerms.Billed : OverageTerms.Refused,
    };

    /// <summary>
    /// Whether the plan charges its overage through the provider's metered price (an overage price and a
    /// <c>stripe_overage_price_id</c>): with billing on, only a paying subscriber gets that overage (<see cref="OverageOf"/>).
    /// </summary>
    public static bool BillsOverageThroughProvider(Identity.PlanDefinition plan) => plan is { OveragePrice: > 0, StripeOveragePriceId.Length: > 0 };

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

    /// <summary>
    /// Null when a failed payment should be applied; otherwise why it is ignored: it names a subscription other than the
    /// recorded one (an old or a parallel subscription's invoice), the recorded subscription has ended (the user is on
    /// the default plan and owes nothing more), its checkout's payment failed already (it never started), or the
    /// recorded subscription is paying and an event newer than the failure said so (the provider redelivers for days,
    /// so a failure can arrive after the payment that settled it).
    /// </summary>
    public static string? WhyPaymentFailureIgnored(BillingCustomer? current, string subscriptionId, long eventCreated)
    {
        if (current is null || current.SubscriptionId.Length == 0)
        {
            return null;
        }

        if (subscriptionId.Length > 0 && !string.Equals(current.SubscriptionId, subscriptionId, StringComparison.Ordinal))
        {
            return $"the failed invoice is for subscription {subscriptionId}, not the user's current subscription {current.SubscriptionId}";
        }

        if (IsEnded(current.SubscriptionStatus))
        {
            return $"subscription {current.SubscriptionId} has already ended";
        }

        if (current.SubscriptionStatus == CheckoutPaymentFailed)
        {
            return $"the checkout of subscription {current.SubscriptionId} was never paid: its payment failure was handled already";
        }

        return IsPaying(current.SubscriptionStatus) && eventCreated < current.LastEventCreated
            ? $"stale: subscription {current.SubscriptionId} was confirmed {current.SubscriptionStatus} by a newer event"
            : null;
    }
}
