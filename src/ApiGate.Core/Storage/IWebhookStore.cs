using ApiGate.Core.Webhooks;

namespace ApiGate.Core.Storage;

/// <summary>
/// Outgoing webhooks: endpoints (secrets stored encrypted), the event outbox, one delivery per event and endpoint,
/// and every attempt. None of it is configuration: writes do not bump the config version.
/// </summary>
public interface IWebhookStore
{
    /// <summary>Endpoints, oldest first, without their secrets (<see cref="WebhookEndpointDefinition.Secret"/> empty).</summary>
    Task<IReadOnlyList<WebhookEndpointDefinition>> ListWebhookEndpointsAsync(CancellationToken cancellationToken);

    /// <summary>One endpoint, without its secret.</summary>
    Task<WebhookEndpointDefinition?> FindWebhookEndpointAsync(string id, CancellationToken cancellationToken);

    Task CreateWebhookEndpointAsync(WebhookEndpointDefinition endpoint, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces by id, all but the secret (which never changes), if its stored <c>updated_at</c> is still
    /// <paramref name="readAt"/> (else <see cref="StoreChangedMeanwhileException"/> and nothing is written).
    /// </summary>
    Task UpdateWebhookEndpointAsync(WebhookEndpointDefinition endpoint, DateTimeOffset readAt, CancellationToken cancellationToken);

    /// <summary>Deletes the endpoint with its deliveries and their attempts; <see cref="StoreChangedMeanwhileException"/> when there is no such endpoint (deleted meanwhile).</summary>
    /// <remarks>With <paramref name="readAt"/>, only while its stored <c>updated_at</c> is still that (else <see cref="StoreChangedMeanwhileException"/> and nothing is deleted).</remarks>
    Task DeleteWebhookEndpointAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken);

    /// <summary>
    /// Appends the event and, in the same transaction, a pending delivery for every enabled endpoint subscribed to its
    /// type, or only for <paramref name="endpointId"/> when given (the <c>test</c> event). Returns the deliveries queued.
    /// </summary>
    Task<int> AddWebhookEventAsync(WebhookEvent webhookEvent, string? endpointId, CancellationToken cancellationToken);

    /// <summary>
    /// Leases up to <paramref name="max"/> due deliveries to <paramref name="owner"/> until <paramref name="leaseUntil"/>:
    /// per endpoint only its oldest pending delivery (so events arrive in order), never one another owner holds
    /// an unexpired lease on, and only for enabled endpoints.
    /// </summary>
    Task<IReadOnlyList<WebhookDeliveryWork>> ClaimWebhookDeliveriesAsync(
        string owner, DateTimeOffset now, DateTimeOffset leaseUntil, int max, CancellationToken cancellationToken);

    /// <summary>
    /// Records an attempt and the delivery's new state (<see cref="WebhookDeliveryStatus"/>, next attempt time), and
    /// releases the lease; the state is only changed while <paramref name="owner"/> still holds the lease and the
    /// delivery still counts its age from <paramref name="startedAt"/> (false otherwise). A delivery redelivered while the
    /// attempt was in flight keeps the state the redelivery gave it (due again, its age counted from then); the attempt is
    /// recorded and the lease released.
    /// </summary>
    Task<bool> RecordWebhookAttemptAsync(
        WebhookAttempt attempt, string owner, DateTimeOffset startedAt, string status, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken);

    /// <summary>
    /// The endpoint's newest deliveries (up to <paramref name="limit"/>), each with its newest attempts (up to
    /// <see cref="WebhookDelivery.ListedAttempts"/>; the older ones are not read) and the count of all of them.
    /// </summary>
    Task<IReadOnlyList<WebhookDelivery>> ListWebhookDeliveriesAsync(string endpointId, int limit, CancellationToken cancellationToken);

    /// <summary>One delivery with every one of its attempts, newest first; null when there is none.</summary>
    Task<WebhookDelivery?> FindWebhookDeliveryAsync(long id, CancellationToken cancellationToken);

    /// <summary>Makes a delivery pending again, due at <paramref name="now"/>, its age counted from then. False when there is none.</summary>
    Task<bool> RedeliverWebhookAsync(long id, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Deletes history older than <paramref name="before"/>, at most <paramref name="max"/> rows of each kind: finished
    /// deliveries (delivered or failed) last changed before it, with their attempts, then events recorded before it that
    /// no delivery refers to. Pending deliveries and their events are never deleted. Returns how many deliveries and
    /// events were deleted (fewer than <paramref name="max"/> of each: nothing older is left).
    /// </summary>
    Task<(int Deliveries, int Events)> PruneWebhookHistoryAsync(DateTimeOffset before, int max, CancellationToken cancellationToken);

    /// <summary>
    /// From now on, every usage batch this store writes also records <c>usage.threshold</c> (the stored total reached
    /// <paramref name="threshold"/> of the plan's quota) and <c>usage.limit</c> (all of it), once per user and quota
    /// period, in the batch's own transaction; so does every change of a user's plan or of a plan's monthly quota, for
    /// the users it puts past a line, in the change's transaction.
    /// </summary>
    void EnableUsageAlerts(double threshold);

    /// <summary>
    /// From now on, <paramref name="callback"/> runs after each write of this store instance that queued a delivery
    /// has committed, whatever recorded the event (the serving gateway's delivery worker sends it at once).
    /// </summary>
    void OnDeliveriesQueued(Action callback);
}
