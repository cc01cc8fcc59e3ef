using ApiGate.Core.Identity;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>plans</c>.</summary>
internal sealed record PlanRow
{
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string Description { get; init; } = "";
    public int RateLimitPerMinute { get; init; }
    public long RequestsPerMonth { get; init; }
    public long PriceMonthly { get; init; }
    public long OveragePrice { get; init; }
    public bool IsDefault { get; init; }
    public bool Enabled { get; init; }
    public bool Visible { get; init; }
    public string CreatedAt { get; init; } = "";
    public string UpdatedAt { get; init; } = "";
    public string StripePriceId { get; init; } = "";
    public string StripeOveragePriceId { get; init; } = "";
    public string StripeMeterEvent { get; init; } = "";

    public static PlanRow From(PlanDefinition p) => new()
    {
        Id = p.Id,
        Name = p.Name,
        Description = p.Description,
        RateLimitPerMinute = p.RateLimitPerMinute,
        RequestsPerMonth = p.RequestsPerMonth,
        PriceMonthly = p.PriceMonthly,
        OveragePrice = p.OveragePrice,
        IsDefault = p.IsDefault,
        Enabled = p.Enabled,
        Visible = p.Visible,
        CreatedAt = StoredValues.Time(p.CreatedAt),
        UpdatedAt = StoredValues.Time(p.UpdatedAt),
        StripePriceId = p.StripePriceId,
        StripeOveragePriceId = p.StripeOveragePriceId,
        StripeMeterEvent = p.StripeMeterEvent,
    };

    public PlanDefinition ToDefinition() => new()
    {
        Id = Id,
        Name = Name,
        Description = Description,
        RateLimitPerMinute = RateLimitPerMinute,
        RequestsPerMonth = RequestsPerMonth,
        PriceMonthly = PriceMonthly,
        OveragePrice = OveragePrice,
        IsDefault = IsDefault,
        Enabled = Enabled,
        Visible = Visible,
        CreatedAt = StoredValues.Time(CreatedAt),
        UpdatedAt = StoredValues.Time(UpdatedAt),
        StripePriceId = StripePriceId,
        StripeOveragePriceId = StripeOveragePriceId,
        StripeMeterEvent = StripeMeterEvent,
    };
}
