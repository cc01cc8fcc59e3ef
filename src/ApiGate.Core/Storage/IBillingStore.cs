using ApiGate.Core.Billing;

namespace ApiGate.Core.Storage;

/// <summary>
/// Billing state (docs/billing.md): the billing customer of each user, the provider events already processed, and the
/// overage outbox. The outbox rows are written by <see cref="IUsageStore.AddUsageEventsAsync(IReadOnlyList{Usage.UsageEvent}, Usage.RawUsageEvents, CancellationToken)"/>
/// in the usage batch's own transaction, for users whose plan has a meter and who are billing customers.
/// </summary>
public interface IBillingStore
{
    Task<BillingCustomer?> FindBillingCustomerAsync(string userId, CancellationToken cancellationToken);

    /// <summary>The billing customers of those of <paramref name="userIds"/> that have one, in one query (e.g. a page of users); none for an empty list.</summary>
    Task<IReadOnlyList<BillingCustomer>> FindBillingCustomersAsync(IReadOnlyCollection<string> userIds, CancellationToken cancellationToken);

    Task<BillingCustomer?> FindBillingCustomerByProviderIdAsync(string customerId, CancellationToken cancellationToken);

    /// <summary>Inserts the customer unless the user already has one; returns the one stored (an existing one wins).</summary>
    Task<BillingCustomer> AddBillingCustomerAsync(BillingCustomer customer, CancellationToken cancellationToken);

    /// <summary>True when an event with this id was processed before.</summary>
    Task<bool> IsBillingEventProcessedAsync(string eventId, CancellationToken cancellationToken);

    /// <summary>
    /// In one transaction: checks that the user's billing state is still <paramref name="basis"/> (the user's row locked
    /// first where the engine has row locks; <see cref="BillingApplyResult.Outdated"/> and nothing changed otherwise),
    /// records the event (insert-if-absent by id) and, only when it was not recorded before, stores
    /// <paramref name="customer"/> (upsert by user) and applies <paramref name="userChange"/> (which bumps the config
    /// version, so gateways reload the user's plan) and appends <paramref name="webhookEvents"/> to the outgoing webhook
    /// outbox. <see cref="BillingApplyResult.Duplicate"/>, and nothing changed, when the event was already processed.
    /// </summary>
    /// <param name="basis">What the decision read; null for an event about no user of this gateway (nothing to check).</param>
    Task<BillingApplyResult> ApplyBillingEventAsync(
        BillingEventRecord record, BillingBasis? basis, BillingCustomer? customer, BillingUserChange? userChange, IReadOnlyList<Webhooks.WebhookEvent> webhookEvents,
        CancellationToken cancellationToken);

    /// <summary>
    /// Claims up to <paramref name="max"/> unsent outbox rows that are due and not leased by a live claim, for
    /// <paramref name="lease"/>, as <paramref name="owner"/>; oldest first. Two instances never hold the same row.
    /// </summary>
    Task<IReadOnlyList<OverageReport>> ClaimOverageAsync(string owner, int max, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken);

    /// <summary>
    /// Holds every unsent row, not leased by a live claim, whose first attempt was at or before <paramref name="firstAttemptBefore"/>:
    /// a resend would come after the provider forgot its idempotency key and could bill it twice, so it is no longer
    /// claimed until <see cref="ResolveHeldOverageAsync"/>. Returns the rows held by this call.
    /// </summary>
    Task<IReadOnlyList<OverageReport>> HoldStaleOverageAsync(DateTimeOffset now, DateTimeOffset firstAttemptBefore, CancellationToken cancellationToken);

    /// <summary>Decides a held row: marked sent, or released to be sent again. False when no held row has that id.</summary>
    Task<bool> ResolveHeldOverageAsync(string id, OverageResolution resolution, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Marks a claimed row sent; false when the claim was lost (the row stays for whoever holds it).</summary>
    Task<bool> MarkOverageSentAsync(string id, string owner, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Releases a claimed row for another attempt at <paramref name="retryAt"/>, recording why this one failed.</summary>
    Task MarkOverageFailedAsync(string id, string owner, DateTimeOffset retryAt, string error, CancellationToken cancellationToken);

    /// <summary>Counts of pending and sent rows and units.</summary>
    Task<OverageTotals> GetOverageTotalsAsync(CancellationToken cancellationToken);

    /// <summary>The newest <paramref name="limit"/> outbox rows, pending or sent.</summary>
    Task<IReadOnlyList<OverageReport>> ListOverageAsync(bool sent, int limit, CancellationToken cancellationToken);
}
