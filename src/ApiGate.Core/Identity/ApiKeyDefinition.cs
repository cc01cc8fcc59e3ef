using System.Text.Json.Serialization;

namespace ApiGate.Core.Identity;

/// <summary>A stored API key: only its prefix and hash; the key itself is shown once at creation and never stored.</summary>
public sealed record ApiKeyDefinition
{
    public required string Id { get; init; }
    public string Name { get; init; } = "";
    public required string UserId { get; init; }

    /// <summary>The first 12 characters of the key (<c>ak_</c> + 9 hex), indexed for lookup and safe to show.</summary>
    public required string Prefix { get; init; }

    /// <summary>SHA-256 of the whole key, lower-case hex. Never printed.</summary>
    [JsonIgnore]
    public string Hash { get; init; } = "";

    public DateTimeOffset? ExpiresAt { get; init; }
    public DateTimeOffset? RevokedAt { get; init; }
    public DateTimeOffset? LastUsedAt { get; init; }
    public DateTimeOffset CreatedAt { get; init; }

    public override string ToString() => $"ApiKey {{ Id = {Id}, Prefix = {Prefix}, UserId = {UserId} }}";
}
