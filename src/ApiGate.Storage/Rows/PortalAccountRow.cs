using ApiGate.Core.Portal;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>portal_accounts</c>: the password hash, never the password.</summary>
internal sealed record PortalAccountRow
{
    public string UserId { get; init; } = "";
    public string PasswordHash { get; init; } = "";
    public string? EmailVerifiedAt { get; init; }
    public string CreatedAt { get; init; } = "";
    public string UpdatedAt { get; init; } = "";

    public static PortalAccountRow From(PortalAccount a) => new()
    {
        UserId = a.UserId,
        PasswordHash = a.PasswordHash,
        EmailVerifiedAt = StoredValues.Time(a.EmailVerifiedAt),
        CreatedAt = StoredValues.Time(a.CreatedAt),
        UpdatedAt = StoredValues.Time(a.UpdatedAt),
    };

    public PortalAccount ToDefinition() => new()
    {
        UserId = UserId,
        PasswordHash = PasswordHash,
        EmailVerifiedAt = StoredValues.TimeOrNull(EmailVerifiedAt),
        CreatedAt = StoredValues.Time(CreatedAt),
        UpdatedAt = StoredValues.Time(UpdatedAt),
    };
}
