namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>user_identities</c>: an identity provider's subject linked to a user.</summary>
internal sealed record UserIdentityRow
{
    public string Issuer { get; init; } = "";
    public string Subject { get; init; } = "";
    public string UserId { get; init; } = "";
    public string CreatedAt { get; init; } = "";
}
