namespace ApiGate.Core.Billing;

/// <summary>
/// Something billing did that the operator's systems may want to hear about (outgoing webhook events
/// <c>subscription.started</c>, <c>subscription.ended</c>, <c>payment.failed</c>, <c>plan.changed</c>), or could not do
/// (<c>subscription.unapplied</c>: <see cref="PlanId"/> is the plan paid for, which does not exist, and
/// <see cref="PreviousPlanId"/> the plan the user stays on).
/// </summary>
public sealed record BillingNotification(string EventType, string UserId, string PlanId, string PreviousPlanId, string SubscriptionId);

/// <summary>How a webhook was handled.</summary>
public enum WebhookStatus
{
    /// <summary>Verified and applied (or verified and deliberately ignored: <see cref="WebhookOutcome.Message"/> says why).</summary>
    Processed,

    /// <summary>Already processed (same event id): nothing changed.</summary>
    Duplicate,

    /// <summary>Signature or timestamp not valid, or not readable: nothing changed.</summary>
    Invalid,

    /// <summary>Genuine but refers to something the gateway cannot map (an unknown price id, no default plan): nothing changed, not recorded, so the provider retries.</summary>
    Rejected,

    /// <summary>Billing is not configured.</summary>
    Off,
}

/// <summary>The outcome of a webhook; <see cref="Notifications"/> are what changed.</summary>
public sealed record WebhookOutcome(WebhookStatus Status, string Message, string EventId, string EventType, IReadOnlyList<BillingNotification> Notifications)
{
    /// <summary>
    /// Accepted, but the operator has to act (a payment for a plan deleted meanwhile): <see cref="Message"/> says what.
    /// </summary>
    public bool NeedsAttention => Notifications.Any(n => n.EventType == Webhooks.WebhookEventTypes.SubscriptionUnapplied);

    public static WebhookOutcome Of(WebhookStatus status, string message, BillingEvent? e = null) => new(status, message, e?.Id ?? "", e?.Type ?? "", []);
}
