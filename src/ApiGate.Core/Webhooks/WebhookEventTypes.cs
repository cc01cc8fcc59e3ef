using System.Collections.Frozen;

namespace ApiGate.Core.Webhooks;

/// <summary>
/// The event types an outgoing webhook endpoint can subscribe to (docs/webhooks.md). The names are part of the
/// public contract with the operator's systems: never rename one, only add.
/// </summary>
public static class WebhookEventTypes
{
    /// <summary>A user was created (CLI, admin API, portal sign-up).</summary>
    public const string UserCreated = "user.created";

    /// <summary>An API key was created.</summary>
    public const string KeyCreated = "key.created";

    /// <summary>An API key was revoked.</summary>
    public const string KeyRevoked = "key.revoked";

    /// <summary>A user's plan changed, whoever changed it. Recorded by the store itself, in the transaction that changes the plan.</summary>
    public const string PlanChanged = "plan.changed";

    /// <summary>A user's usage crossed the configured share of the quota (once per user and quota period).</summary>
    public const string UsageThreshold = "usage.threshold";

    /// <summary>A user's quota was exhausted (once per user and quota period).</summary>
    public const string UsageLimit = "usage.limit";

    /// <summary>A paid subscription started (billing provider).</summary>
    public const string SubscriptionStarted = "subscription.started";

    /// <summary>A paid subscription ended (billing provider).</summary>
    public const string SubscriptionEnded = "subscription.ended";

    /// <summary>A subscription payment failed (billing provider).</summary>
    public const string PaymentFailed = "payment.failed";

    /// <summary>
    /// A customer paid for a subscription the gateway could not give them (its checkout named a plan deleted meanwhile):
    /// the user's plan did not change, and the operator has to settle it (billing provider).
    /// </summary>
    public const string SubscriptionUnapplied = "subscription.unapplied";

    /// <summary>Sent to one endpoint on request (<c>apigate webhooks test</c>), never subscribed to.</summary>
    public const string Test = "test";

    /// <summary>The types an endpoint may subscribe to, in documentation order.</summary>
    public static readonly IReadOnlyList<string> Subscribable =
    [
        UserCreated, KeyCreated, KeyRevoked, PlanChanged, UsageThreshold, UsageLimit, SubscriptionStarted, SubscriptionEnded, PaymentFailed,
        SubscriptionUnapplied,
    ];

    private static readonly FrozenSet<string> Known = Subscribable.Append(Test).ToFrozenSet(StringComparer.Ordinal);

    /// <summary>True for a type that may be published (<see cref="Subscribable"/> and <see cref="Test"/>).</summary>
    public static bool IsKnown(string type) => Known.Contains(type);
}
