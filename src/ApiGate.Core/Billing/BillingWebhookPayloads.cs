using System.Text.Json.Nodes;
using ApiGate.Core.Identity;
using ApiGate.Core.Webhooks;

namespace ApiGate.Core.Billing;

/// <summary>
/// The outgoing webhook events billing records (docs/webhooks.md): <c>subscription.started</c>, <c>subscription.ended</c>,
/// <c>payment.failed</c>, <c>subscription.unapplied</c> and <c>plan.changed</c>, written in the store transaction that applies the provider's event.
/// </summary>
public static class BillingWebhookPayloads
{
    public static WebhookEvent From(BillingNotification n, UserDefinition user, string provider, DateTimeOffset at)
    {
        if (n.EventType == WebhookEventTypes.PlanChanged)
        {
            return WebhookPayloads.PlanChanged(user with { PlanId = n.PlanId, UpdatedAt = at }, n.PreviousPlanId, at);
        }

        var data = new JsonObject
        {
            ["user_id"] = user.Id,
            ["email"] = user.Email,
            ["plan_id"] = n.PlanId,
            ["provider"] = provider,
            ["subscription_id"] = n.SubscriptionId,
            ["at"] = WebhookPayloads.Time(at),
        };
        if (n.EventType == WebhookEventTypes.SubscriptionEnded)
        {
            data["previous_plan_id"] = n.PreviousPlanId;
        }
        else if (n.EventType == WebhookEventTypes.SubscriptionUnapplied)
        {
            data["current_plan_id"] = n.PreviousPlanId;
        }

        return WebhookEvent.Create(n.EventType, data, user.Id, at);
    }
}
