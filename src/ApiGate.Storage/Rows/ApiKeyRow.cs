using ApiGate.Core.Identity;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>api_keys</c>: the key's hash and prefix, never the key.</summary>
internal sealed record ApiKeyRow
{
    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string UserId { get; init; } = "";
    public string Prefix { get; init; } = "";
    public string Hash { get; init; } = "";
    public string? ExpiresAt { get; init; }
    public string? RevokedAt { get; init; }
    public string? LastUsedAt { get; init; }
    public string CreatedAt { get; init; } = "";

    public static ApiKeyRow From(ApiKeyDefinition k) => new()
    {
        Id = k.Id,
        Name = k.Name,
        UserId = k.UserId,
        Prefix = k.Prefix,
        Hash = k.Hash,
        ExpiresAt = StoredValues.Time(k.ExpiresAt),
        RevokedAt = StoredValues.Time(k.RevokedAt),
        LastUsedAt = StoredValues.Time(k.LastUsedAt),
        CreatedAt = StoredValues.Time(k.CreatedAt),
    };

    public ApiKeyDefinition ToDefinition() => new()
    {
        Id = Id,
        Name = Name,
        UserId = UserId,
        Prefix = Prefix,
        Hash = Hash,
        ExpiresAt = StoredValues.TimeOrNull(ExpiresAt),
        RevokedAt = StoredValues.TimeOrNull(RevokedAt),
        LastUsedAt = StoredValues.TimeOrNull(LastUsedAt),
        CreatedAt = StoredValues.Time(CreatedAt),
    };
}
