using ApiGate.Core.Entitlements;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>plan_entitlements</c>: one plan's value for one entitlement.</summary>
internal sealed record PlanEntitlementRow
{
    public string Id { get; init; } = "";
    public string PlanId { get; init; } = "";
    public string EntitlementId { get; init; } = "";
    public string Value { get; init; } = "";
    public bool Enabled { get; init; }
    public string CreatedAt { get; init; } = "";

    public static PlanEntitlementRow From(PlanEntitlement p) => new()
    {
        Id = p.Id,
        PlanId = p.PlanId,
        EntitlementId = p.EntitlementId,
        Value = p.Value,
        Enabled = p.Enabled,
        CreatedAt = StoredValues.Time(p.CreatedAt),
    };

    public PlanEntitlement ToDefinition() => new()
    {
        Id = Id,
        PlanId = PlanId,
        EntitlementId = EntitlementId,
        Value = Value,
        Enabled = Enabled,
        CreatedAt = StoredValues.Time(CreatedAt),
    };
}
