namespace ApiGate.Core.Identity;

/// <summary>What a subscriber may do: rate limit, monthly quota, price. Immutable configuration record.</summary>
public sealed record PlanDefinition
{
    public required string Id { get; init; }
    public required string Name { get; init; }
    public string Description { get; init; } = "";

    /// <summary>Requests per minute per API key; 0 = unlimited.</summary>
    public int RateLimitPerMinute { get; init; }

    /// <summary>Metered units per user per calendar month (UTC); 0 = unlimited (-1 is accepted on input and stored as 0).</summary>
    public long RequestsPerMonth { get; init; }

    /// <summary>Monthly price in cents.</summary>
    public long PriceMonthly { get; init; }

    /// <summary>Cents per unit past the quota. When above 0, requests past the quota are served and counted as overage instead of 402.</summary>
    public long OveragePrice { get; init; }

    /// <summary>The plan new users get when none is named. At most one plan is the default.</summary>
    public bool IsDefault { get; init; }

    public bool Enabled { get; init; } = true;

    /// <summary>Offered on the customer portal's plan page (docs/portal.md); false by default.</summary>
    public bool Visible { get; init; }

    /// <summary>The billing provider's recurring price of the subscription (Stripe: <c>price_…</c>); empty when the plan is not sold through billing.</summary>
    public string StripePriceId { get; init; } = "";

    /// <summary>The metered price added to the subscription for overage (Stripe: <c>price_…</c>, attached to a meter); empty for none.</summary>
    public string StripeOveragePriceId { get; init; } = "";

    /// <summary>The event name of the Stripe meter that overage units are reported to; empty for none (docs/billing.md).</summary>
    public string StripeMeterEvent { get; init; } = "";
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}
