namespace ApiGate.Core.Billing;

/// <summary>The provider events billing acts on; everything else is <see cref="Other"/> (recorded, ignored).</summary>
public enum BillingEventKind
{
    Other,
    CheckoutCompleted,
    SubscriptionUpdated,
    SubscriptionDeleted,
    PaymentFailed,

    /// <summary>The delayed payment (a bank debit) of a checkout that completed unpaid failed: its subscription never starts.</summary>
    CheckoutPaymentFailed,
}

/// <summary>A verified provider event, read into what billing needs (provider-neutral).</summary>
/// <param name="Id">The provider's event id: events are processed once per id.</param>
/// <param name="Type">The provider's type name (<c>customer.subscription.updated</c>).</param>
/// <param name="Created">When the provider created the event (Unix seconds).</param>
/// <param name="SubscriptionStatus">
/// The subscription's status; for a completed checkout <c>active</c> once it is paid (or needs no payment), <c>incomplete</c>
/// while its payment is still clearing (a bank debit).
/// </param>
/// <param name="SubscriptionCreated">When the subscription was created (Unix seconds); 0 when the event does not say.</param>
/// <param name="PriceIds">The subscription's prices (subscription events).</param>
/// <param name="UserId">The user the checkout was started for (checkout metadata), empty when not given.</param>
/// <param name="PlanId">The plan the checkout was started for (checkout metadata), empty when not given.</param>
public sealed record BillingEvent(
    string Id,
    string Type,
    BillingEventKind Kind,
    long Created,
    string CustomerId,
    string SubscriptionId,
    string SubscriptionStatus,
    long SubscriptionCreated,
    IReadOnlyList<string> PriceIds,
    string UserId,
    string PlanId);
