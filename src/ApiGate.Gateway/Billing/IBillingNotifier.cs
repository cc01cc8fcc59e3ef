using ApiGate.Core.Billing;

namespace ApiGate.Gateway.Billing;

/// <summary>Tells the operator's systems what billing changed (outgoing webhooks when they are configured; the log always).</summary>
internal interface IBillingNotifier
{
    /// <summary>Queues the notifications; must not block on delivery.</summary>
    ValueTask NotifyAsync(IReadOnlyList<BillingNotification> notifications, CancellationToken cancellationToken);
}
