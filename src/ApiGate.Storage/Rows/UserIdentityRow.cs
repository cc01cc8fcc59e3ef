using ApiGate.Core.Identity;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>user_identities</c>: an identity provider's subject linked to a user.</summary>
internal sealed record UserIdentityRow
{
    public string Issuer { get; init; } = "";
    public string Subject { get; init; } = "";
    public string UserId { get; init; } = "";
    public string CreatedAt { get; init; } = "";

    public static UserIdentityRow From(UserIdentity i) => new()
    {
        Issuer = i.Issuer,
        Subject = i.Subject,
        UserId = i.UserId,
        CreatedAt = StoredValues.Time(i.CreatedAt),
    };

    public UserIdentity ToDefinition() => new() { Issuer = Issuer, Subject = Subject, UserId = UserId, CreatedAt = StoredValues.Time(CreatedAt) };
}
