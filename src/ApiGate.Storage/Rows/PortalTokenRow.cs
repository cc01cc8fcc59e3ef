using ApiGate.Core.Portal;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>portal_tokens</c>: the hash of a one-time link token, never the token.</summary>
internal sealed record PortalTokenRow
{
    public string Id { get; init; } = "";
    public string UserId { get; init; } = "";
    public string Purpose { get; init; } = "";
    public string Hash { get; init; } = "";
    public string CreatedAt { get; init; } = "";
    public string ExpiresAt { get; init; } = "";
    public string? UsedAt { get; init; }

    public static PortalTokenRow From(PortalToken t) => new()
    {
        Id = t.Id,
        UserId = t.UserId,
        Purpose = StoredValues.Enum(t.Purpose),
        Hash = t.Hash,
        CreatedAt = StoredValues.Time(t.CreatedAt),
        ExpiresAt = StoredValues.Time(t.ExpiresAt),
        UsedAt = StoredValues.Time(t.UsedAt),
    };

    public PortalToken ToDefinition() => new()
    {
        Id = Id,
        UserId = UserId,
        Purpose = StoredValues.Enum<PortalTokenPurpose>(Purpose),
        Hash = Hash,
        CreatedAt = StoredValues.Time(CreatedAt),
        ExpiresAt = StoredValues.Time(ExpiresAt),
        UsedAt = StoredValues.TimeOrNull(UsedAt),
    };
}
