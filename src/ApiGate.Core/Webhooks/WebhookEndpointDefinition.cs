using System.Text.Json.Serialization;

namespace ApiGate.Core.Webhooks;

/// <summary>An operator's endpoint that receives signed events of the types it subscribed to.</summary>
public sealed record WebhookEndpointDefinition
{
    /// <summary>A <c>wh_…</c> id.</summary>
    public required string Id { get; init; }

    /// <summary>An absolute http or https URL.</summary>
    public required string Url { get; init; }

    /// <summary>The subscribed types (<see cref="WebhookEventTypes.Subscribable"/>), in the order given.</summary>
    public required IReadOnlyList<string> Events { get; init; }

    public string Description { get; init; } = "";

    /// <summary>Disabled endpoints get no new deliveries; pending ones wait until it is enabled again.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>
    /// The signing secret (<c>whsec_</c> + base64) of an endpoint being created: shown once, never serialised. Empty on
    /// an endpoint read from the store, which decrypts it only to sign a delivery.
    /// </summary>
    [JsonIgnore]
    public string Secret { get; init; } = "";

    public DateTimeOffset CreatedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; init; }

    public override string ToString() => $"WebhookEndpoint {{ Id = {Id}, Url = {Url} }}";
}
