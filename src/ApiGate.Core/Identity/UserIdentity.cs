namespace ApiGate.Core.Identity;

/// <summary>
/// An identity provider's subject linked to a user: a JWT from <see cref="Issuer"/> whose user claim
/// (<c>jwt.user_claim</c>, <c>sub</c> by default) is <see cref="Subject"/> acts as the user <see cref="UserId"/>.
/// </summary>
public sealed record UserIdentity
{
    /// <summary>The issuer URL, as the gateway's <c>jwt.issuer</c> setting spells it.</summary>
    public required string Issuer { get; init; }

    /// <summary>The claim's value, exactly (compared case-sensitively).</summary>
    public required string Subject { get; init; }

    public required string UserId { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
}
