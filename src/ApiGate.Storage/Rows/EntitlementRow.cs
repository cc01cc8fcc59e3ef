using ApiGate.Core.Entitlements;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>entitlements</c>.</summary>
internal sealed record EntitlementRow
{
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string DisplayName { get; init; } = "";
    public string Description { get; init; } = "";
    public string Category { get; init; } = "";
    public string ValueType { get; init; } = "";
    public string DefaultValue { get; init; } = "";
    public string HeaderName { get; init; } = "";
    public bool Enabled { get; init; }
    public string CreatedAt { get; init; } = "";
    public string UpdatedAt { get; init; } = "";

    public static EntitlementRow From(EntitlementDefinition e) => new()
    {
        Id = e.Id,
        Name = e.Name,
        DisplayName = e.DisplayName,
        Description = e.Description,
        Category = e.Category,
        ValueType = StoredValues.Enum(e.ValueType),
        DefaultValue = e.DefaultValue,
        HeaderName = e.HeaderName,
        Enabled = e.Enabled,
        CreatedAt = StoredValues.Time(e.CreatedAt),
        UpdatedAt = StoredValues.Time(e.UpdatedAt),
    };

    public EntitlementDefinition ToDefinition() => new()
    {
        Id = Id,
        Name = Name,
        DisplayName = DisplayName,
        Description = Description,
        Category = Category,
        ValueType = StoredValues.Enum<EntitlementValueType>(ValueType),
        DefaultValue = DefaultValue,
        HeaderName = HeaderName,
        Enabled = Enabled,
        CreatedAt = StoredValues.Time(CreatedAt),
        UpdatedAt = StoredValues.Time(UpdatedAt),
    };
}
