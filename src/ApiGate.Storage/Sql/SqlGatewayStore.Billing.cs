using System.Data.Common;
using ApiGate.Core.Billing;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using ApiGate.Storage.Rows;

namespace ApiGate.Storage.Sql;

/// <summary>
/// Billing (docs/billing.md): customers, processed provider events and the overage outbox. Outbox rows are inserted by
/// the usage batch (<see cref="Usage.UsageSql.InsertOverage"/>); here they are claimed with a lease, marked sent or
/// released for a retry. Lease and retry times are Unix seconds so both engines compare plain integers.
/// </summary>
public abstract partial class SqlGatewayStore
{
    private static readonly RowTable<BillingCustomerRow> BillingCustomers = new("billing_customers", "user_id");

    private static readonly RowTable<BillingEventRow> BillingEvents = new("billing_events", "received_at, event_id");

    private static readonly RowTable<OverageOutboxRow> OverageOutbox = new("billing_usage_outbox", "usage_at, id");

    private const string UpsertBillingCustomer =
        "INSERT INTO billing_customers (user_id, provider, customer_id, subscription_id, subscription_status, subscription_created, last_event_created, suspended_by_billing, updated_at) " +
        "VALUES (@UserId, @Provider, @CustomerId, @SubscriptionId, @SubscriptionStatus, @SubscriptionCreated, @LastEventCreated, @SuspendedByBilling, @UpdatedAt) " +
        "ON CONFLICT (user_id) DO UPDATE SET customer_id = excluded.customer_id, subscription_id = excluded.subscription_id, " +
        "subscription_status = excluded.subscription_status, subscription_created = excluded.subscription_created, " +
        "last_event_created = excluded.last_event_created, suspended_by_billing = excluded.suspended_by_billing, updated_at = excluded.updated_at";

    public Task<BillingCustomer?> FindBillingCustomerAsync(string userId, CancellationToken cancellationToken) =>
        FindAsync(BillingCustomers, r => r.ToDefinition(), "WHERE user_id = @Ref", userId, cancellationToken);

    public async Task<IReadOnlyList<BillingCustomer>> FindBillingCustomersAsync(IReadOnlyCollection<string> userIds, CancellationToken cancellationToken)
    {
        if (userIds.Count == 0)
        {
            return [];
        }

        var (among, parameters) = Among("user_id", userIds);
        return await UseAsync<IReadOnlyList<BillingCustomer>>(async (connection, ct) =>
            (await QueryAsync<BillingCustomerRow>(connection, null, BillingCustomers.Select("WHERE " + among), parameters, ct)).Select(r => r.ToDefinition()).ToList(),
            cancellationToken);
    }

    public Task<BillingCustomer?> FindBillingCustomerByProviderIdAsync(string customerId, CancellationToken cancellationToken) =>
        FindAsync(BillingCustomers, r => r.ToDefinition(), "WHERE customer_id = @Ref", customerId, cancellationToken);

    public async Task<BillingCustomer> AddBillingCustomerAsync(BillingCustomer customer, CancellationToken cancellationToken)
    {
        await WriteTransactionAsync(async (connection, transaction, ct) =>
            await ExecuteAsync(connection, transaction,
                BillingCustomers.Insert + " ON CONFLICT (user_id) DO NOTHING", ct,
                BillingCustomerRow.From(customer)), cancellationToken);
        return await FindBillingCustomerAsync(customer.UserId, cancellationToken) ?? customer;
    }

    public Task<bool> IsBillingEventProcessedAsync(string eventId, CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) =>
            await ScalarAsync(connection, null, "SELECT COUNT(*) FROM billing_events WHERE event_id = @Id", ct, new { Id = eventId }) > 0, cancellationToken);

    public Task<BillingApplyResult> ApplyBillingEventAsync(
        BillingEventRecord record, BillingBasis? basis, BillingCustomer? customer, BillingUserChange? userChange, IReadOnlyList<Core.Webhooks.WebhookEvent> webhookEvents,
        CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            // The decision was made on what was read before this transaction: apply it only if that is still the state
            // (another event about the same user, e.g. Stripe's checkout.session.completed and customer.subscription.created
            // sent together, may have been applied meanwhile). On PostgreSQL the user's row is locked first, so the check
            // and the write see the same state; SQLite's writers take turns.
            if (basis is not null && !await IsStillAsync(connection, transaction, basis, ct))
            {
                return BillingApplyResult.Outdated;
            }

            // Insert-if-absent in the transaction that makes the change: a replayed or concurrent duplicate finds the row
            // (or waits for the first one's commit and then finds it) and changes nothing.
            var inserted = await ExecuteAsync(connection, transaction,
                "INSERT INTO billing_events (event_id, type, user_id, outcome, received_at) VALUES (@EventId, @Type, @UserId, @Outcome, @ReceivedAt) ON CONFLICT (event_id) DO NOTHING",
                ct, new { record.EventId, record.Type, record.UserId, record.Outcome, ReceivedAt = StoredValues.Time(record.ReceivedAt) });
            if (inserted == 0)
            {
                return BillingApplyResult.Duplicate;
            }

            var payingChanged = false;
            if (customer is not null)
            {
                var before = await QueryAsync<BillingCustomerRow>(connection, transaction, BillingCustomers.Select("WHERE user_id = @Id"), new { Id = customer.UserId }, ct);
                payingChanged = SubscriptionOrdering.IsPaying(before.Count > 0 ? before[0].ToDefinition() : null) != SubscriptionOrdering.IsPaying(customer);
                await ExecuteAsync(connection, transaction, UpsertBillingCustomer, ct, BillingCustomerRow.From(customer));
            }

            var planChanged = false;
            if (userChange is not null)
            {
                var previous = (await QueryAsync<string>(connection, transaction, "SELECT plan_id FROM users WHERE id = @UserId", new { userChange.UserId }, ct))
                    .FirstOrDefault();
                planChanged = previous is not null && previous != userChange.PlanId;
                await ExecuteAsync(connection, transaction, "UPDATE users SET plan_id = @PlanId, status = @Status, updated_at = @At WHERE id = @UserId", ct,
                    new { userChange.UserId, userChange.PlanId, Status = StoredValues.Enum(userChange.Status), At = StoredValues.Time(userChange.At) });
                await BumpVersionAsync(connection, transaction, ct);
            }
            else if (payingChanged)
            {
                // Gateways read whether a user pays with the user's key (RequestIdentity.Unsubscribed: overage on a plan
                // billed through the provider), so a subscription that starts or ends must reach them as a plan change
                // does, even when the plan stays (a user already on the plan subscribing to it, or one whose subscription
                // ends on the default plan they were on). The identity version was moved by the database (the trigger on
                // billing_customers' subscription columns); the config version tells listening gateways at once.
                await BumpVersionAsync(connection, transaction, ct);
            }

            // The operator's webhooks (plan.changed included: this UPDATE bypasses UpdateUserAsync) commit with the change,
            // and after them the usage crossings the new plan causes (UpdateUserAsync records them too).
            foreach (var webhookEvent in webhookEvents)
            {
                await AppendWebhookEventAsync(connection, transaction, webhookEvent, null, ct);
            }

            if (planChanged)
            {
                await RecordUserPlanCrossingsAsync(connection, transaction, userChange!.UserId, userChange.At, ct);
            }

            return BillingApplyResult.Applied;
        }, cancellationToken);

    /// <summary>Whether the user's billing customer, plan and status are still what <paramref name="basis"/> says.</summary>
    private async Task<bool> IsStillAsync(DbConnection connection, DbTransaction transaction, BillingBasis basis, CancellationToken ct)
    {
        await LockUserAsync(connection, transaction, basis.UserId, ct);
        var user = await QueryAsync<(string PlanId, string Status)>(connection, transaction, "SELECT plan_id, status FROM users WHERE id = @Id", new { Id = basis.UserId }, ct);
        if (user is not [var (planId, status)] || planId != basis.PlanId || status != StoredValues.Enum(basis.Status))
        {
            return false;
        }

        var customers = await QueryAsync<BillingCustomerRow>(connection, transaction, BillingCustomers.Select("WHERE user_id = @Id"), new { Id = basis.UserId }, ct);
        return Equals(customers.Count > 0 ? customers[0].ToDefinition() : null, basis.Customer);
    }

    public Task<IReadOnlyList<OverageReport>> ClaimOverageAsync(string owner, int max, DateTimeOffset now, TimeSpan lease, CancellationToken cancellationToken) =>
        WriteTransactionAsync<IReadOnlyList<OverageReport>>(async (connection, transaction, ct) =>
        {
            var at = now.ToUnixTimeSeconds();
            var until = (now + lease).ToUnixTimeSeconds();
            // The lease conditions are repeated outside the sub-select: under PostgreSQL's READ COMMITTED a second claimer
            // blocked on the same rows re-checks them against the first claimer's committed lease and skips the rows.
            await ExecuteAsync(connection, transaction,
                "UPDATE billing_usage_outbox SET lease_owner = @Owner, lease_until = @Until, attempts = attempts + 1, " +
                "first_attempt_at = CASE WHEN first_attempt_at = 0 THEN @Now ELSE first_attempt_at END " +
                "WHERE sent_at IS NULL AND held_at = 0 AND next_attempt_at <= @Now AND lease_until < @Now AND id IN (" +
                "SELECT id FROM billing_usage_outbox WHERE sent_at IS NULL AND held_at = 0 AND next_attempt_at <= @Now AND lease_until < @Now ORDER BY usage_at, id LIMIT @Max)",
                ct, new { Owner = owner, Until = until, Now = at, Max = max });
            var rows = await QueryAsync<OverageOutboxRow>(connection, transaction,
                OverageOutbox.Select("WHERE sent_at IS NULL AND lease_owner = @Owner AND lease_until = @Until"), new { Owner = owner, Until = until }, ct);
            return rows.Select(r => r.ToDefinition()).ToList();
        }, cancellationToken);

    public Task<IReadOnlyList<OverageReport>> HoldStaleOverageAsync(DateTimeOffset now, DateTimeOffset firstAttemptBefore, CancellationToken cancellationToken) =>
        WriteTransactionAsync<IReadOnlyList<OverageReport>>(async (connection, transaction, ct) =>
        {
            var at = now.ToUnixTimeSeconds();
            var stale = await QueryAsync<OverageOutboxRow>(connection, transaction,
                OverageOutbox.Select("WHERE sent_at IS NULL AND held_at = 0 AND first_attempt_at > 0 AND first_attempt_at <= @Before AND lease_until < @Now"),
                new { Before = firstAttemptBefore.ToUnixTimeSeconds(), Now = at }, ct);
            var held = new List<OverageReport>(stale.Count);
            foreach (var row in stale)
            {
                if (await ExecuteAsync(connection, transaction,
                        "UPDATE billing_usage_outbox SET held_at = @Now WHERE id = @Id AND sent_at IS NULL AND held_at = 0 AND lease_until < @Now",
                        ct, new { row.Id, Now = at }) > 0)
                {
                    held.Add((row with { HeldAt = at }).ToDefinition());
                }
            }

            return held;
        }, cancellationToken);

    public Task<bool> ResolveHeldOverageAsync(string id, OverageResolution resolution, DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
            await ExecuteAsync(connection, transaction, resolution == OverageResolution.Sent
                    ? "UPDATE billing_usage_outbox SET sent_at = @Now, held_at = 0, lease_owner = '', lease_until = 0 WHERE id = @Id AND sent_at IS NULL AND held_at > 0"
                    : "UPDATE billing_usage_outbox SET held_at = 0, first_attempt_at = 0, next_attempt_at = 0, lease_owner = '', lease_until = 0 WHERE id = @Id AND sent_at IS NULL AND held_at > 0",
                ct, new { Id = id, Now = now.ToUnixTimeSeconds() }) > 0, cancellationToken);

    public Task<bool> MarkOverageSentAsync(string id, string owner, DateTimeOffset at, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
            await ExecuteAsync(connection, transaction,
                "UPDATE billing_usage_outbox SET sent_at = @At, lease_owner = '', lease_until = 0, last_error = '' WHERE id = @Id AND lease_owner = @Owner AND sent_at IS NULL",
                ct, new { Id = id, Owner = owner, At = at.ToUnixTimeSeconds() }) > 0, cancellationToken);

    public Task MarkOverageFailedAsync(string id, string owner, DateTimeOffset retryAt, string error, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
            await ExecuteAsync(connection, transaction,
                "UPDATE billing_usage_outbox SET next_attempt_at = @RetryAt, lease_owner = '', lease_until = 0, last_error = @Error WHERE id = @Id AND lease_owner = @Owner",
                ct, new { Id = id, Owner = owner, RetryAt = retryAt.ToUnixTimeSeconds(), Error = TextCut.OneLine(error, 500) }), cancellationToken);

    public Task<OverageTotals> GetOverageTotalsAsync(CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) =>
        {
            var pendingRows = await ScalarAsync(connection, null, "SELECT COUNT(*) FROM billing_usage_outbox WHERE sent_at IS NULL", ct);
            var pendingUnits = await ScalarAsync(connection, null, "SELECT CAST(COALESCE(SUM(units), 0) AS BIGINT) FROM billing_usage_outbox WHERE sent_at IS NULL", ct);
            var sentRows = await ScalarAsync(connection, null, "SELECT COUNT(*) FROM billing_usage_outbox WHERE sent_at IS NOT NULL", ct);
            var sentUnits = await ScalarAsync(connection, null, "SELECT CAST(COALESCE(SUM(units), 0) AS BIGINT) FROM billing_usage_outbox WHERE sent_at IS NOT NULL", ct);
            var failing = await ScalarAsync(connection, null, "SELECT COUNT(*) FROM billing_usage_outbox WHERE sent_at IS NULL AND last_error <> ''", ct);
            var held = await ScalarAsync(connection, null, "SELECT COUNT(*) FROM billing_usage_outbox WHERE sent_at IS NULL AND held_at > 0", ct);
            return new OverageTotals(pendingRows, pendingUnits, sentRows, sentUnits, failing, held);
        }, cancellationToken);

    public Task<IReadOnlyList<OverageReport>> ListOverageAsync(bool sent, int limit, CancellationToken cancellationToken) =>
        UseAsync<IReadOnlyList<OverageReport>>(async (connection, ct) =>
            (await QueryAsync<OverageOutboxRow>(connection, null,
                $"SELECT {OverageOutbox.Columns} FROM billing_usage_outbox WHERE sent_at IS {(sent ? "NOT NULL" : "NULL")} ORDER BY usage_at DESC, id DESC LIMIT @Limit",
                new { Limit = limit }, ct)).Select(r => r.ToDefinition()).ToList(), cancellationToken);
}
