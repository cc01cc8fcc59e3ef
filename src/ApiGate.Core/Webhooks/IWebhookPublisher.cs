using System.Text.Json.Nodes;

namespace ApiGate.Core.Webhooks;

/// <summary>
/// Records an event for the outgoing webhooks: it is written to the store's outbox (one delivery per enabled endpoint
/// subscribed to its type) before the returned task completes, and delivered later by the background worker, at
/// least once. Use it for changes that do not go through a store write of their own; changes the store makes
/// (users, keys, plans) record their events in the same transaction instead, so nothing is published twice.
/// </summary>
/// <remarks>
/// <see cref="WebhookEventTypes.PlanChanged"/> is recorded by the store whenever a user's plan id changes, whatever
/// changed it (operator, portal, billing): do not publish it here as well.
/// </remarks>
public interface IWebhookPublisher
{
    /// <summary>Records one event.</summary>
    /// <param name="type">One of <see cref="WebhookEventTypes"/> (an unknown type throws <see cref="ArgumentException"/>).</param>
    /// <param name="data">The event's <c>data</c> object, as receivers will see it (snake_case fields, no secrets).</param>
    /// <param name="userId">The user the event is about, if any (kept with the event, and listed with it).</param>
    /// <param name="cancellationToken">Cancels the store write.</param>
    Task PublishAsync(string type, JsonObject data, string? userId, CancellationToken cancellationToken);
}
