namespace ApiGate.Core.Billing;

/// <summary>A user's customer record at the billing provider and the state of their subscription as last applied.</summary>
/// <param name="SubscriptionCreated">When the provider created the subscription (Unix seconds); a newer subscription supersedes an older one.</param>
/// <param name="LastEventCreated">The creation time (Unix seconds) of the newest subscription event applied; older ones are stale.</param>
/// <param name="SuspendedByBilling">The user was suspended for a failed payment, so a paid subscription may reactivate them.</param>
public sealed record BillingCustomer(
    string UserId,
    string Provider,
    string CustomerId,
    string SubscriptionId,
    string SubscriptionStatus,
    long SubscriptionCreated,
    long LastEventCreated,
    bool SuspendedByBilling,
    DateTimeOffset UpdatedAt);

/// <summary>A processed provider event, as recorded (<see cref="Outcome"/> says what it did).</summary>
public sealed record BillingEventRecord(string EventId, string Type, string UserId, string Outcome, DateTimeOffset ReceivedAt);

/// <summary>The plan and status a billing event gives a user.</summary>
public sealed record BillingUserChange(string UserId, string PlanId, Identity.UserStatus Status, DateTimeOffset At);

/// <summary>
/// What the decision about a billing event was made on: the user's billing customer (null: none yet) and their plan
/// and status as read before it. The store applies the event only if they are still so, checked in the transaction
/// that writes it, so two events about one user decided at the same moment cannot both act on the same old state.
/// </summary>
public sealed record BillingBasis(string UserId, BillingCustomer? Customer, string PlanId, Identity.UserStatus Status);

/// <summary>What <see cref="Storage.IBillingStore.ApplyBillingEventAsync"/> did.</summary>
public enum BillingApplyResult
{
    /// <summary>Recorded, and its changes made.</summary>
    Applied,

    /// <summary>An event with this id was processed before: nothing changed.</summary>
    Duplicate,

    /// <summary>The user's billing state changed since the decision was made (<see cref="BillingBasis"/>): nothing changed; decide again.</summary>
    Outdated,
}

/// <summary>One overage outbox row: units over the quota to report as metered usage, identified for idempotency by <see cref="Id"/>.</summary>
public sealed record OverageReport(
    string Id,
    string UserId,
    string CustomerId,
    string MeterEvent,
    long Units,
    DateTimeOffset PeriodStart,
    DateTimeOffset UsageAt,
    int Attempts,
    string LastError,
    DateTimeOffset? SentAt,
    DateTimeOffset? FirstAttemptAt = null,
    DateTimeOffset? HeldAt = null);

/// <summary>
/// Outbox totals for <c>apigate billing status</c>. <see cref="HeldRows"/>: pending rows no longer sent on their own
/// because their first attempt is older than the provider's de-duplication window (an operator decides them).
/// </summary>
public sealed record OverageTotals(long PendingRows, long PendingUnits, long SentRows, long SentUnits, long FailingRows, long HeldRows = 0);

/// <summary>What an operator decided about a held overage row (<c>apigate billing resolve</c>).</summary>
public enum OverageResolution
{
    /// <summary>The provider has the units (checked there): mark the row sent, never send it again.</summary>
    Sent,

    /// <summary>The provider does not have them: send the row again, with the same id.</summary>
    Resend,
}
