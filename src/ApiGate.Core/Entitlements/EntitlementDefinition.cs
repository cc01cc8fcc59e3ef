namespace ApiGate.Core.Entitlements;

/// <summary>The type an entitlement's values must have.</summary>
public enum EntitlementValueType
{
    Boolean,
    Number,
    String,
}

/// <summary>A feature flag plans can grant (SPEC §3.4).</summary>
public sealed record EntitlementDefinition
{
    public required string Id { get; init; }

    /// <summary>Unique, e.g. <c>max_api_keys</c>; the default header is derived from it.</summary>
    public required string Name { get; init; }

    public string DisplayName { get; init; } = "";
    public string Description { get; init; } = "";
    public string Category { get; init; } = "";
    public EntitlementValueType ValueType { get; init; } = EntitlementValueType.Boolean;
    public string DefaultValue { get; init; } = "";

    /// <summary>Header to send instead of <c>X-Entitlement-&lt;Name&gt;</c>; empty = the derived one.</summary>
    public string HeaderName { get; init; } = "";

    public bool Enabled { get; init; } = true;
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}

/// <summary>A plan's value for an entitlement.</summary>
public sealed record PlanEntitlement
{
    public required string Id { get; init; }
    public required string PlanId { get; init; }
    public required string EntitlementId { get; init; }
    public required string Value { get; init; }
    public bool Enabled { get; init; } = true;
    public DateTimeOffset CreatedAt { get; init; }
}
