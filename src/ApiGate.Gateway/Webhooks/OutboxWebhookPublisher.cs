using System.Text.Json.Nodes;
using ApiGate.Core.Storage;
using ApiGate.Core.Webhooks;

namespace ApiGate.Gateway.Webhooks;

/// <summary>Writes events to the store's outbox (durable before it returns), then wakes this process's delivery worker.</summary>
internal sealed class OutboxWebhookPublisher(IWebhookStore store, WebhookSignal signal, TimeProvider timeProvider) : IWebhookPublisher
{
    public async Task PublishAsync(string type, JsonObject data, string? userId, CancellationToken cancellationToken)
    {
        var queued = await store.AddWebhookEventAsync(WebhookEvent.Create(type, data, userId, timeProvider.GetUtcNow()), null, cancellationToken);
        if (queued > 0)
        {
            signal.Notify();
        }
    }
}
