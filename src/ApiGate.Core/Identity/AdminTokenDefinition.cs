using System.Text.Json.Serialization;

namespace ApiGate.Core.Identity;

/// <summary>
/// A stored admin token: the credential for the admin API. Only its display prefix and SHA-256 hash are kept; the
/// token itself is shown once, when it is created. Admin tokens and API keys never stand in for each other.
/// </summary>
public sealed record AdminTokenDefinition
{
    public required string Id { get; init; }

    /// <summary>Unique label, e.g. the tool or person using the token.</summary>
    public required string Name { get; init; }

    /// <summary>The first characters of the token (<c>agt_</c> + 8 hex), indexed for lookup and safe to show.</summary>
    public required string Prefix { get; init; }

    /// <summary>SHA-256 of the whole token, lower-case hex. Never printed.</summary>
    [JsonIgnore]
    public string Hash { get; init; } = "";

    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? LastUsedAt { get; init; }
    public DateTimeOffset? RevokedAt { get; init; }

    public override string ToString() => $"AdminToken {{ Id = {Id}, Name = {Name}, Prefix = {Prefix} }}";
}
