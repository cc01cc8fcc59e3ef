namespace ApiGate.Core.Portal;

/// <summary>
/// The portal side of a user (SPEC §14): the password hash and when the email address was verified. The user itself is
/// an ordinary <see cref="Identity.UserDefinition"/>; this record only exists for users who signed up in the portal.
/// </summary>
public sealed record PortalAccount
{
    public required string UserId { get; init; }

    /// <summary>The salted, slow hash of the password (never the password).</summary>
    public required string PasswordHash { get; init; }

    /// <summary>When the owner followed a verification link; null while unverified.</summary>
    public DateTimeOffset? EmailVerifiedAt { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset UpdatedAt { get; init; }
}
