using ApiGate.Core.Identity;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>admin_tokens</c>: the token's hash and prefix, never the token.</summary>
internal sealed record AdminTokenRow
{
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string Prefix { get; init; } = "";
    public string Hash { get; init; } = "";
    public string CreatedAt { get; init; } = "";
    public string? LastUsedAt { get; init; }
    public string? RevokedAt { get; init; }

    public static AdminTokenRow From(AdminTokenDefinition t) => new()
    {
        Id = t.Id,
        Name = t.Name,
        Prefix = t.Prefix,
        Hash = t.Hash,
        CreatedAt = StoredValues.Time(t.CreatedAt),
        LastUsedAt = StoredValues.Time(t.LastUsedAt),
        RevokedAt = StoredValues.Time(t.RevokedAt),
    };

    public AdminTokenDefinition ToDefinition() => new()
    {
        Id = Id,
        Name = Name,
        Prefix = Prefix,
        Hash = Hash,
        CreatedAt = StoredValues.Time(CreatedAt),
        LastUsedAt = StoredValues.TimeOrNull(LastUsedAt),
        RevokedAt = StoredValues.TimeOrNull(RevokedAt),
    };
}
