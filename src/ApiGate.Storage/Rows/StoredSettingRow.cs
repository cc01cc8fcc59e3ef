using ApiGate.Core.Storage;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>stored_settings</c>.</summary>
internal sealed record StoredSettingRow
{
    public string Name { get; init; } = "";
    public string Value { get; init; } = "";
    public string UpdatedAt { get; init; } = "";

    public StoredSetting ToSetting() => new(Name, Value, StoredValues.Time(UpdatedAt));
}
