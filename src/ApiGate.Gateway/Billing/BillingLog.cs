using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Billing;

/// <summary>Billing's log lines (events 9100–9199). Never a key, secret or signature.</summary>
internal static partial class BillingLog
{
    [LoggerMessage(EventId = 9100, Level = LogLevel.Information, EventName = "BillingWebhook",
        Message = "Billing webhook {EventId} {EventType}: {Status}, {Outcome}")]
    public static partial void Webhook(ILogger logger, string eventId, string eventType, string status, string outcome);

    [LoggerMessage(EventId = 9101, Level = LogLevel.Warning, EventName = "BillingWebhookRefused",
        Message = "Billing webhook refused ({Status}): {Reason}")]
    public static partial void WebhookRefused(ILogger logger, string status, string reason);

    [LoggerMessage(EventId = 9102, Level = LogLevel.Warning, EventName = "BillingWebhookNeedsAttention",
        Message = "Billing webhook {EventId} {EventType} accepted but not applied: {Outcome}")]
    public static partial void WebhookNeedsAttention(ILogger logger, string eventId, string eventType, string outcome);

    [LoggerMessage(EventId = 9110, Level = LogLevel.Information, EventName = "BillingNotification",
        Message = "Billing {EventType}: user {UserId} plan {PlanId} (was {PreviousPlanId}) subscription {SubscriptionId}")]
    public static partial void Notification(ILogger logger, string eventType, string userId, string planId, string previousPlanId, string subscriptionId);

    [LoggerMessage(EventId = 9120, Level = LogLevel.Information, EventName = "OverageReported",
        Message = "Overage {OutboxId}: {Units} unit(s) of user {UserId} reported to meter {MeterEvent}")]
    public static partial void OverageReported(ILogger logger, string outboxId, long units, string userId, string meterEvent);

    [LoggerMessage(EventId = 9121, Level = LogLevel.Warning, EventName = "OverageReportFailed",
        Message = "Overage {OutboxId} not reported (attempt {Attempt}), retrying at {RetryAt:O}: {Reason}")]
    public static partial void OverageFailed(ILogger logger, string outboxId, int attempt, DateTimeOffset retryAt, string reason);

    [LoggerMessage(EventId = 9122, Level = LogLevel.Warning, EventName = "OverageClaimLost",
        Message = "Overage {OutboxId} was reported but its claim had expired; the idempotency key keeps it billed once")]
    public static partial void OverageClaimLost(ILogger logger, string outboxId);

    [LoggerMessage(EventId = 9125, Level = LogLevel.Warning, EventName = "OverageClaimRanOut",
        Message = "Slow answers from the billing provider used up this instance's claim before overage {OutboxId} was sent; it and the rest of the batch are sent once the claim has run out")]
    public static partial void OverageClaimRanOut(ILogger logger, string outboxId);

    [LoggerMessage(EventId = 9123, Level = LogLevel.Error, EventName = "OverageReporterFailed",
        Message = "Overage reporter pass failed; retrying")]
    public static partial void ReporterFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 9124, Level = LogLevel.Error, EventName = "OverageHeld",
        Message = "Overage {OutboxId} ({Units} unit(s) of user {UserId}, meter {MeterEvent}) was first sent at {FirstAttempt:O}, longer ago than the provider keeps its idempotency key; it is held, not sent again: check the customer's meter in Stripe, then run 'apigate billing resolve {OutboxId} --sent' or '--resend'")]
    public static partial void OverageHeld(ILogger logger, string outboxId, long units, string userId, string meterEvent, DateTimeOffset firstAttempt);
}
