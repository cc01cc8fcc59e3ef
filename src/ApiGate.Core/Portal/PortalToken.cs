namespace ApiGate.Core.Portal;

/// <summary>What a one-time portal link does.</summary>
public enum PortalTokenPurpose
{
    /// <summary>Confirms the email address (valid 24 h).</summary>
    Verify,

    /// <summary>Sets a new password (valid 1 h).</summary>
    Reset,
}

/// <summary>
/// A one-time link token as stored: only its SHA-256 hash, never the token. Single use: consuming it sets
/// <see cref="UsedAt"/> in the same statement that checks it is unused and unexpired.
/// </summary>
public sealed record PortalToken
{
    public required string Id { get; init; }
    public required string UserId { get; init; }
    public PortalTokenPurpose Purpose { get; init; }

    /// <summary>SHA-256 of the token, lower-case hex.</summary>
    public required string Hash { get; init; }

    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset ExpiresAt { get; init; }
    public DateTimeOffset? UsedAt { get; init; }
}
