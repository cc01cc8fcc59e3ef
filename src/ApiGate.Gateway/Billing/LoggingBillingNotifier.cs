using ApiGate.Core.Billing;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Billing;

/// <summary>Writes each billing notification to the log (event 9110).</summary>
internal sealed class LoggingBillingNotifier(ILogger<LoggingBillingNotifier> logger) : IBillingNotifier
{
    public ValueTask NotifyAsync(IReadOnlyList<BillingNotification> notifications, CancellationToken cancellationToken)
    {
        foreach (var n in notifications)
        {
            BillingLog.Notification(logger, n.EventType, n.UserId, n.PlanId, n.PreviousPlanId, n.SubscriptionId);
        }

        return ValueTask.CompletedTask;
    }
}
