namespace ApiGate.Core.Webhooks;

/// <summary>The states of a delivery: waiting for its (next) attempt, received by the endpoint, or given up.</summary>
public static class WebhookDeliveryStatus
{
    public const string Pending = "pending";
    public const string Delivered = "delivered";
    public const string Failed = "failed";
}

/// <summary>
/// One event on its way to one endpoint, with its attempts (newest first): all of them when one delivery is read, the
/// newest <see cref="ListedAttempts"/> in an endpoint's listing (<see cref="AttemptCount"/> says how many there are).
/// </summary>
public sealed record WebhookDelivery
{
    /// <summary>
    /// The most attempts each delivery carries in an endpoint's listing, newest first: a delivery retried for days has
    /// hundreds, and the listing read every one of them for every delivery it showed.
    /// </summary>
    public const int ListedAttempts = 10;

    public required long Id { get; init; }
    public required string EndpointId { get; init; }
    public required string EventId { get; init; }
    public required string EventType { get; init; }

    /// <summary>One of <see cref="WebhookDeliveryStatus"/>.</summary>
    public required string Status { get; init; }

    /// <summary>
    /// Every attempt recorded for it, redeliveries included; more than <see cref="Attempts"/> holds when the listing left
    /// the older ones out.
    /// </summary>
    public int AttemptCount { get; init; }

    /// <summary>When the next attempt is due (pending deliveries).</summary>
    public DateTimeOffset NextAttemptAt { get; init; }

    /// <summary>When it was queued, or redelivered: retries stop once it is older than the maximum age.</summary>
    public DateTimeOffset StartedAt { get; init; }

    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>Its attempts, newest first: in an endpoint's listing only the newest <see cref="ListedAttempts"/>.</summary>
    public IReadOnlyList<WebhookAttempt> Attempts { get; init; } = [];
}

/// <summary>One HTTP attempt of a delivery.</summary>
/// <param name="StatusCode">The endpoint's status code; 0 when there was no response (refused, timed out).</param>
/// <param name="LatencyMs">From sending to the response's headers (or the failure).</param>
/// <param name="Error">Why it did not count as delivered; empty for a 2xx.</param>
public sealed record WebhookAttempt(long DeliveryId, DateTimeOffset AttemptedAt, int StatusCode, double LatencyMs, string Error)
{
    /// <summary>
    /// The error of an attempt cut short because the gateway stopped: listed with the others, but not the endpoint's
    /// failure, so it is not counted for the back-off.
    /// </summary>
    public const string GatewayStopping = "gateway stopping";
}

/// <summary>A claimed delivery, with what sending it needs (the endpoint's secret in clear, for signing only).</summary>
/// <param name="SecretError">
/// Why the endpoint's stored secret could not be read (encrypted with another <c>APIGATE_SECRET_KEY</c>, damaged), or
/// null; when set, <paramref name="Secret"/> is empty and the attempt fails with this reason, for this endpoint only.
/// </param>
public sealed record WebhookDeliveryWork(
    long DeliveryId, string EndpointId, string Url, string Secret, string EventId, string Body, int AttemptCount, DateTimeOffset StartedAt,
    string? SecretError = null)
{
    public override string ToString() => $"WebhookDeliveryWork {{ DeliveryId = {DeliveryId}, EndpointId = {EndpointId}, EventId = {EventId} }}";
}
