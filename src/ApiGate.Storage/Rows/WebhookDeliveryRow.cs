using ApiGate.Core.Webhooks;

namespace ApiGate.Storage.Rows;

/// <summary>A row of <c>webhook_deliveries</c> joined with its event's type (<see cref="EventType"/>).</summary>
internal sealed record WebhookDeliveryRow
{
    public long Id { get; init; }
    public string EndpointId { get; init; } = "";
    public string EventId { get; init; } = "";
    public string EventType { get; init; } = "";
    public string Status { get; init; } = "";
    public long AttemptCount { get; init; }
    public string NextAttemptAt { get; init; } = "";
    public string StartedAt { get; init; } = "";
    public string UpdatedAt { get; init; } = "";

    public WebhookDelivery ToDelivery(IReadOnlyList<WebhookAttempt> attempts) => new()
    {
        Id = Id,
        EndpointId = EndpointId,
        EventId = EventId,
        EventType = EventType,
        Status = Status,
        AttemptCount = (int)AttemptCount,
        NextAttemptAt = StoredValues.Time(NextAttemptAt),
        StartedAt = StoredValues.Time(StartedAt),
        UpdatedAt = StoredValues.Time(UpdatedAt),
        Attempts = attempts,
    };
}

/// <summary>A row of <c>webhook_attempts</c>.</summary>
internal sealed record WebhookAttemptRow
{
    public long Id { get; init; }
    public long DeliveryId { get; init; }
    public string AttemptedAt { get; init; } = "";
    public long StatusCode { get; init; }
    public double LatencyMs { get; init; }
    public string Error { get; init; } = "";

    public WebhookAttempt ToAttempt() => new(DeliveryId, StoredValues.Time(AttemptedAt), (int)StatusCode, LatencyMs, Error);
}

/// <summary>A claimed delivery with its endpoint and event, as <c>ClaimWebhookDeliveriesAsync</c> reads it.</summary>
internal sealed record WebhookWorkRow
{
    public long Id { get; init; }
    public string EndpointId { get; init; } = "";
    public string Url { get; init; } = "";
    public string Secret { get; init; } = "";
    public string EventId { get; init; } = "";
    public string Body { get; init; } = "";
    public long AttemptCount { get; init; }
    public string StartedAt { get; init; } = "";
}
