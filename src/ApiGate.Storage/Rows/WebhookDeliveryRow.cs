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

/// <summary>A row of <c>webhook_events</c> as stored (<c>apigate store copy</c>; the target numbers <c>seq</c> in the same order).</summary>
internal sealed record WebhookEventRow
{
    public string Id { get; init; } = "";
    public string Type { get; init; } = "";
    public string? UserId { get; init; }
    public string Body { get; init; } = "";
    public string CreatedAt { get; init; } = "";
}

/// <summary>A row of <c>webhook_deliveries</c> as stored, lease included (<c>apigate store copy</c>).</summary>
internal sealed record WebhookDeliveryStateRow
{
    public long Id { get; init; }
    public string EndpointId { get; init; } = "";
    public string EventId { get; init; } = "";
    public string Status { get; init; } = "";
    public long AttemptCount { get; init; }
    public string NextAttemptAt { get; init; } = "";
    public string LeaseOwner { get; init; } = "";
    public string LeaseUntil { get; init; } = "";
    public string StartedAt { get; init; } = "";
    public string UpdatedAt { get; init; } = "";
}

/// <summary>A row of <c>webhook_usage_marks</c>: a usage notification already sent for a user's period (never sent twice).</summary>
internal sealed record WebhookUsageMarkRow
{
    public string UserId { get; init; } = "";
    public string PeriodStart { get; init; } = "";
    public string Kind { get; init; } = "";
    public string CreatedAt { get; init; } = "";
}
