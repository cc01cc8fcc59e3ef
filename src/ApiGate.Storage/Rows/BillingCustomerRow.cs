using ApiGate.Core.Billing;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>billing_customers</c>.</summary>
internal sealed record BillingCustomerRow
{
    public string UserId { get; init; } = "";
    public string Provider { get; init; } = "";
    public string CustomerId { get; init; } = "";
    public string SubscriptionId { get; init; } = "";
    public string SubscriptionStatus { get; init; } = "";
    public long SubscriptionCreated { get; init; }
    public long LastEventCreated { get; init; }
    public bool SuspendedByBilling { get; init; }
    public string UpdatedAt { get; init; } = "";

    public static BillingCustomerRow From(BillingCustomer c) => new()
    {
        UserId = c.UserId,
        Provider = c.Provider,
        CustomerId = c.CustomerId,
        SubscriptionId = c.SubscriptionId,
        SubscriptionStatus = c.SubscriptionStatus,
        SubscriptionCreated = c.SubscriptionCreated,
        LastEventCreated = c.LastEventCreated,
        SuspendedByBilling = c.SuspendedByBilling,
        UpdatedAt = StoredValues.Time(c.UpdatedAt),
    };

    public BillingCustomer ToDefinition() =>
        new(UserId, Provider, CustomerId, SubscriptionId, SubscriptionStatus, SubscriptionCreated, LastEventCreated, SuspendedByBilling, StoredValues.Time(UpdatedAt));
}

/// <summary>A row of <c>billing_usage_outbox</c>.</summary>
internal sealed record OverageOutboxRow
{
    public string Id { get; init; } = "";
    public string UserId { get; init; } = "";
    public string CustomerId { get; init; } = "";
    public string MeterEvent { get; init; } = "";
    public long Units { get; init; }
    public string PeriodStart { get; init; } = "";
    public long UsageAt { get; init; }
    public int Attempts { get; init; }
    public long NextAttemptAt { get; init; }
    public string LeaseOwner { get; init; } = "";
    public long LeaseUntil { get; init; }
    public string LastError { get; init; } = "";
    public long? SentAt { get; init; }
    public long FirstAttemptAt { get; init; }
    public long HeldAt { get; init; }

    public OverageReport ToDefinition() => new(Id, UserId, CustomerId, MeterEvent, Units, StoredValues.Time(PeriodStart),
        DateTimeOffset.FromUnixTimeSeconds(UsageAt), Attempts, LastError, SentAt is { } sent ? DateTimeOffset.FromUnixTimeSeconds(sent) : null,
        FirstAttemptAt > 0 ? DateTimeOffset.FromUnixTimeSeconds(FirstAttemptAt) : null, HeldAt > 0 ? DateTimeOffset.FromUnixTimeSeconds(HeldAt) : null);
}

/// <summary>A row of <c>billing_events</c>: a provider event already processed.</summary>
internal sealed record BillingEventRow
{
    public string EventId { get; init; } = "";
    public string Type { get; init; } = "";
    public string UserId { get; init; } = "";
    public string Outcome { get; init; } = "";
    public string ReceivedAt { get; init; } = "";
}
