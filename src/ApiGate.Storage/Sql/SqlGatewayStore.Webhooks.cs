using System.Data.Common;
using ApiGate.Core.Quotas;
using ApiGate.Core.Usage;
using ApiGate.Core.Storage;
using ApiGate.Core.Webhooks;
using ApiGate.Storage.Rows;
using Dapper;

namespace ApiGate.Storage.Sql;

/// <summary>Outgoing webhooks: endpoints, the event outbox, deliveries (leased to one worker at a time) and attempts.</summary>
public abstract partial class SqlGatewayStore : IWebhookStore
{
    private static readonly RowTable<WebhookEndpointRow> WebhookEndpoints = new("webhook_endpoints", "created_at, id");

    /// <summary>Set by <see cref="EnableUsageAlerts"/> (the serving gateway, the CLI); null: usage batches and plan changes record no crossings.</summary>
    private double? _usageAlertShare;

    /// <summary>Set by <see cref="OnDeliveriesQueued"/> (the serving gateway's delivery worker).</summary>
    private Action? _deliveriesQueued;

    /// <summary>The write transactions that queued a delivery, until they commit (<see cref="AfterCommit"/>).</summary>
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<DbTransaction, object> _queuedIn = new();

    /// <summary>
    /// The deliveries to claim (<c>@Now</c>, at most <c>@Max</c>). Per endpoint only the oldest pending delivery is a
    /// candidate: a later event waits for an earlier one's retries, so each endpoint receives events in the order they were
    /// recorded. And none while another of the endpoint's deliveries is leased: an older one redelivered while a newer one
    /// is being sent waits for it. Read from the endpoints, each through index seeks: read from the pending deliveries,
    /// every claim went through an endpoint's whole backlog (250 ms at 20,000 on PostgreSQL, so draining it took hours).
    /// </summary>
    internal const string ClaimCandidatesSql = """
        SELECT d.id FROM webhook_endpoints e
        JOIN webhook_deliveries d ON d.id = (SELECT MIN(x.id) FROM webhook_deliveries x WHERE x.endpoint_id = e.id AND x.status = 'pending')
        WHERE e.enabled AND d.next_attempt_at <= @Now AND d.lease_until <= @Now
          AND NOT EXISTS (SELECT 1 FROM webhook_deliveries y WHERE y.endpoint_id = e.id AND y.status = 'pending' AND y.lease_until > @Now)
        ORDER BY d.id LIMIT @Max
        """;

    /// <summary>An endpoint's newest deliveries (<c>@EndpointId</c>, at most <c>@Limit</c>), read backwards off the (endpoint, id) index.</summary>
    internal const string ListDeliveriesSql = $"SELECT {DeliveryColumns} WHERE d.endpoint_id = @EndpointId ORDER BY d.id DESC LIMIT @Limit";

    private const string DeliveryColumns = """
        d.id, d.endpoint_id, d.event_id, v.type AS event_type, d.status, d.attempt_count, d.next_attempt_at, d.started_at, d.updated_at
        FROM webhook_deliveries d JOIN webhook_events v ON v.id = d.event_id
        """;

    public Task<IReadOnlyList<WebhookEndpointDefinition>> ListWebhookEndpointsAsync(CancellationToken cancellationToken) =>
        ListAsync(WebhookEndpoints, ToWebhookEndpoint, "", null, cancellationToken);

    public Task<WebhookEndpointDefinition?> FindWebhookEndpointAsync(string id, CancellationToken cancellationToken) =>
        FindAsync(WebhookEndpoints, ToWebhookEndpoint, "WHERE id = @Ref", id, cancellationToken);

    public Task CreateWebhookEndpointAsync(WebhookEndpointDefinition endpoint, CancellationToken cancellationToken) =>
        WriteAsync(WebhookEndpoints.Insert, WebhookEndpointRow.From(endpoint, _secrets.Protect), null, cancellationToken, configuration: false);

    /// <summary>Every column but the secret, which never changes (and which a store without its key could not write back).</summary>
    private const string UpdateWebhookEndpoint = """
        UPDATE webhook_endpoints SET url = @Url, events = @Events, description = @Description, enabled = @Enabled, created_at = @CreatedAt,
            updated_at = @UpdatedAt WHERE id = @Id
        """;

    public Task UpdateWebhookEndpointAsync(WebhookEndpointDefinition endpoint, DateTimeOffset readAt, CancellationToken cancellationToken) =>
        WriteAsync(UpdateWebhookEndpoint, WebhookEndpointRow.From(endpoint with { Secret = "" }, _secrets.Protect), null, cancellationToken, configuration: false,
            unchanged: new Unchanged(WebhookEndpoints.Name, endpoint.Id, readAt, "webhook", endpoint.Id));

    public Task DeleteWebhookEndpointAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            // The endpoint is locked first, then its deliveries (PostgreSQL; SQLite writes one transaction at a time
            // anyway): an event being queued for it (which reads the endpoint shared, see AppendWebhookEventAsync) or an
            // attempt being recorded meanwhile either lands before this and is deleted with the others, or finds the
            // endpoint or its delivery gone.
            await LockRowAsync(connection, transaction, "webhook_endpoints", id, ct);
            await ThrowIfChangedAsync(connection, transaction, "webhook_endpoints", id, readAt, ct);
            await ExecuteAsync(connection, transaction, "UPDATE webhook_deliveries SET lease_owner = lease_owner WHERE endpoint_id = @Id", ct, new { Id = id });
            await ExecuteAsync(connection, transaction,
                "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE endpoint_id = @Id)", ct, new { Id = id });
            await ExecuteAsync(connection, transaction, "DELETE FROM webhook_deliveries WHERE endpoint_id = @Id", ct, new { Id = id });
            if (await ExecuteAsync(connection, transaction, "DELETE FROM webhook_endpoints WHERE id = @Id", ct, new { Id = id }) == 0)
            {
                throw DeletedMeanwhile("webhook_endpoints", id);
            }

            return true;
        }, cancellationToken);

    public Task<int> AddWebhookEventAsync(WebhookEvent webhookEvent, string? endpointId, CancellationToken cancellationToken) =>
        WriteTransactionAsync((connection, transaction, ct) => AppendWebhookEventAsync(connection, transaction, webhookEvent, endpointId, ct), cancellationToken);

    public async Task<IReadOnlyList<WebhookDeliveryWork>> ClaimWebhookDeliveriesAsync(
        string owner, DateTimeOffset now, DateTimeOffset leaseUntil, int max, CancellationToken cancellationToken)
    {
        // Every gateway asks once a second, and nearly always nothing is due: a plain read says so without taking the
        // write turn and the engine's write lock (on SQLite the lock of the whole file) or a PostgreSQL transaction.
        // What it finds is read again, and leased, in the write transaction.
        var at = StoredValues.Time(now);
        var due = await DueWebhookDeliveriesAsync(at, max, cancellationToken);
        if (due.Count == 0)
        {
            return [];
        }

        return await WriteTransactionAsync<IReadOnlyList<WebhookDeliveryWork>>(async (connection, transaction, ct) =>
        {
            var candidates = await QueryAsync<long>(connection, transaction, ClaimCandidatesSql, new { Now = at, Max = max }, ct);
            var claimed = new List<long>(candidates.Count);
            foreach (var id in candidates)
            {
                // The lease condition is checked again by the UPDATE itself: of two instances that picked the same row,
                // the second finds it leased (PostgreSQL re-reads the row once the first commits) and skips it.
                if (await ExecuteAsync(connection, transaction, """
                    UPDATE webhook_deliveries SET lease_owner = @Owner, lease_until = @Until
                    WHERE id = @Id AND status = 'pending' AND lease_until <= @Now
                    """, ct, new { Id = id, Owner = owner, Until = StoredValues.Time(leaseUntil), Now = at }) == 1)
                {
                    claimed.Add(id);
                }
            }

            if (claimed.Count == 0)
            {
                return [];
            }

            // The failures since it was queued or redelivered set the back-off; an attempt cut short by a gateway
            // stopping is listed, but was not the endpoint's failure.
            var rows = await QueryAsync<WebhookWorkRow>(connection, transaction, $"""
                SELECT d.id, d.endpoint_id, e.url, e.secret, d.event_id, v.body,
                    (SELECT COUNT(*) FROM webhook_attempts a WHERE a.delivery_id = d.id AND a.attempted_at >= d.started_at
                        AND NOT (a.status_code = 0 AND a.error = @Stopping)) AS attempt_count, d.started_at
                FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN webhook_events v ON v.id = d.event_id
                WHERE d.id IN ({IdList(claimed)}) ORDER BY d.id
                """, new { Stopping = WebhookAttempt.GatewayStopping }, ct);
            return rows.Select(ToWork).ToList();
        }, cancellationToken);
    }

    /// <summary>
    /// A claimed row as work. A secret this store cannot decrypt fails that delivery's attempt, not the claim: thrown
    /// here, it rolled the whole claim back at every round, and no endpoint got anything.
    /// </summary>
    private WebhookDeliveryWork ToWork(WebhookWorkRow r)
    {
        string secret, error;
        try
        {
            (secret, error) = (_secrets.Unprotect(r.Secret), "");
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException or OverflowException or ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            (secret, error) = ("", ex.Message);
        }

        return new WebhookDeliveryWork(r.Id, r.EndpointId, r.Url, secret, r.EventId, r.Body, (int)r.AttemptCount, StoredValues.Time(r.StartedAt),
            error.Length == 0 ? null : error);
    }

    /// <summary>The deliveries <see cref="ClaimWebhookDeliveriesAsync"/> would lease at <paramref name="at"/>, read outside any transaction.</summary>
    private protected virtual Task<IReadOnlyList<long>> DueWebhookDeliveriesAsync(string at, int max, CancellationToken cancellationToken) =>
        UseAsync((connection, ct) => QueryAsync<long>(connection, null, ClaimCandidatesSql, new { Now = at, Max = max }, ct), cancellationToken);

    public Task<bool> RecordWebhookAttemptAsync(
        WebhookAttempt attempt, string owner, DateTimeOffset startedAt, string status, DateTimeOffset nextAttemptAt, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            var at = StoredValues.Time(attempt.AttemptedAt);
            var parameters = new
            {
                Id = attempt.DeliveryId, Status = status, Next = StoredValues.Time(nextAttemptAt), At = at, Owner = owner, StartedAt = StoredValues.Time(startedAt),
            };
            var updated = await ExecuteAsync(connection, transaction, """
                UPDATE webhook_deliveries SET status = @Status, attempt_count = attempt_count + 1, next_attempt_at = @Next,
                    lease_owner = '', lease_until = '', updated_at = @At
                WHERE id = @Id AND lease_owner = @Owner AND status = 'pending' AND started_at = @StartedAt
                """, ct, parameters) == 1;
            if (!updated && await ExecuteAsync(connection, transaction, """
                    UPDATE webhook_deliveries SET attempt_count = attempt_count + 1, lease_owner = '', lease_until = '', updated_at = @At
                    WHERE id = @Id AND lease_owner = @Owner AND started_at <> @StartedAt
                    """, ct, parameters) == 0)
            {
                // Redelivered while the attempt was in flight (the statement above): the state the redelivery gave it
                // stands (the outcome was worked out from the age it had before); only the lease goes, so it is sent
                // again now. Or the lease ran out and another instance holds it now: its state is that instance's, but
                // the attempt below is recorded all the same and counted, so the count is every attempt recorded (the
                // listing shows only the newest of them, and the count says how many there are).
                await ExecuteAsync(connection, transaction, "UPDATE webhook_deliveries SET attempt_count = attempt_count + 1 WHERE id = @Id", ct, parameters);
            }

            // Kept even when the lease was lost (the request was sent), but not for a delivery deleted with its endpoint
            // during the attempt: that row would stay behind for good, belonging to nothing.
            await ExecuteAsync(connection, transaction, """
                INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, latency_ms, error)
                SELECT @DeliveryId, @At, @StatusCode, @LatencyMs, @Error WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = @DeliveryId)
                """, ct, new { attempt.DeliveryId, At = at, attempt.StatusCode, attempt.LatencyMs, attempt.Error });
            return updated;
        }, cancellationToken);

    public Task<IReadOnlyList<WebhookDelivery>> ListWebhookDeliveriesAsync(string endpointId, int limit, CancellationToken cancellationToken) =>
        UseAsync<IReadOnlyList<WebhookDelivery>>(async (connection, ct) =>
        {
            var rows = await QueryAsync<WebhookDeliveryRow>(connection, null, ListDeliveriesSql, new { EndpointId = endpointId, Limit = limit }, ct);
            return await WithAttemptsAsync(connection, rows, NewestAttemptsSql(IdList(rows.Select(r => r.Id))), null, ct);
        }, cancellationToken);

    /// <summary>
    /// The newest <see cref="WebhookDelivery.ListedAttempts"/> attempts of each of the deliveries <paramref name="ids"/>
    /// lists, newest first. Each delivery's range is bounded by the id of its N-th newest attempt, found by a seek on the
    /// (delivery, id) index, so the older attempts are neither read nor sent: a delivery retried for days has hundreds, and
    /// the listing read them all for every delivery it showed. PostgreSQL does it with a LATERAL … LIMIT instead.
    /// </summary>
    private protected virtual string NewestAttemptsSql(string ids) => $"""
        SELECT a.id, a.delivery_id, a.attempted_at, a.status_code, a.latency_ms, a.error
        FROM webhook_deliveries d JOIN webhook_attempts a ON a.delivery_id = d.id
            AND a.id >= COALESCE((SELECT x.id FROM webhook_attempts x WHERE x.delivery_id = d.id ORDER BY x.id DESC LIMIT 1 OFFSET {WebhookDelivery.ListedAttempts - 1}), 0)
        WHERE d.id IN ({ids}) ORDER BY a.id DESC
        """;

    public Task<(int Deliveries, int Events)> PruneWebhookHistoryAsync(DateTimeOffset before, int max, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            var at = StoredValues.Time(before);
            const string Finished = "SELECT id FROM webhook_deliveries WHERE status IN ('delivered', 'failed') AND updated_at < @Before ORDER BY id LIMIT @Max";
            await ExecuteAsync(connection, transaction, $"DELETE FROM webhook_attempts WHERE delivery_id IN ({Finished})", ct, new { Before = at, Max = max });
            var deliveries = await ExecuteAsync(connection, transaction, $"DELETE FROM webhook_deliveries WHERE id IN ({Finished})", ct, new { Before = at, Max = max });

            // Through the event index of deliveries (migration 19): an event is looked up, not searched for in every delivery.
            var events = await ExecuteAsync(connection, transaction, """
                DELETE FROM webhook_events WHERE seq IN (
                    SELECT v.seq FROM webhook_events v
                    WHERE v.created_at < @Before AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = v.id)
                    ORDER BY v.seq LIMIT @Max)
                """, ct, new { Before = at, Max = max });
            return (deliveries, events);
        }, cancellationToken);

    public Task<WebhookDelivery?> FindWebhookDeliveryAsync(long id, CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) =>
        {
            var rows = await QueryAsync<WebhookDeliveryRow>(connection, null, $"SELECT {DeliveryColumns} WHERE d.id = @Id", new { Id = id }, ct);
            var found = await WithAttemptsAsync(connection, rows,
                "SELECT id, delivery_id, attempted_at, status_code, latency_ms, error FROM webhook_attempts WHERE delivery_id = @Id ORDER BY id DESC", new { Id = id }, ct);
            return found.Count > 0 ? found[0] : null;
        }, cancellationToken);

    public Task<bool> RedeliverWebhookAsync(long id, DateTimeOffset now, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            var at = StoredValues.Time(now);
            return await ExecuteAsync(connection, transaction,
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = @At, started_at = @At, updated_at = @At WHERE id = @Id", ct,
                new { Id = id, At = at }) == 1;
        }, cancellationToken);

    /// <summary>
    /// Appends an event to the outbox inside <paramref name="transaction"/>, with a pending delivery for every enabled
    /// endpoint subscribed to its type (or only for <paramref name="endpointId"/>): a change and its event commit together.
    /// The endpoints are read shared until the commit (PostgreSQL), so one deleted meanwhile is not left a delivery.
    /// Returns how many deliveries were queued.
    /// </summary>
    private const string InsertWebhookEvent = "INSERT INTO webhook_events (id, type, user_id, body, created_at) VALUES (@Id, @Type, @UserId, @Body, @At)";

    private const string SubscribedEndpoints = "WHERE enabled AND (',' || events || ',') LIKE ('%,' || @Type || ',%')";

    /// <summary>Queues event <c>@EventId</c> (of <c>@Type</c>, at <c>@At</c>) for the endpoints <paramref name="which"/> selects, read shared.</summary>
    private string QueueDeliveries(string which) => $"""
        INSERT INTO webhook_deliveries (endpoint_id, event_id, status, attempt_count, next_attempt_at, lease_owner, lease_until, started_at, updated_at)
        SELECT id, @EventId, 'pending', 0, @At, '', '', @At, @At FROM webhook_endpoints {which} ORDER BY created_at, id{ShareRowLock}
        """;

    private protected async Task<int> AppendWebhookEventAsync(
        DbConnection connection, DbTransaction transaction, WebhookEvent webhookEvent, string? endpointId, CancellationToken cancellationToken)
    {
        var at = StoredValues.Time(webhookEvent.CreatedAt);
        await ExecuteAsync(connection, transaction, InsertWebhookEvent,
            cancellationToken, new { webhookEvent.Id, webhookEvent.Type, webhookEvent.UserId, webhookEvent.Body, At = at });
        var queued = await ExecuteAsync(connection, transaction, QueueDeliveries(endpointId is null ? SubscribedEndpoints : "WHERE id = @EndpointId"),
            cancellationToken, new { EventId = webhookEvent.Id, webhookEvent.Type, EndpointId = endpointId, At = at });
        if (queued > 0)
        {
            _queuedIn.AddOrUpdate(transaction, transaction);
        }

        return queued;
    }

    public void OnDeliveriesQueued(Action callback) => _deliveriesQueued = callback;

    /// <summary>
    /// After <paramref name="transaction"/> committed: if it queued a delivery, wakes this process's delivery worker, so
    /// an event this gateway records (a user, a key, a plan change, a usage crossing) is sent at once, not at its next poll.
    /// </summary>
    private protected void AfterCommit(DbTransaction transaction)
    {
        if (_queuedIn.Remove(transaction))
        {
            _deliveriesQueued?.Invoke();
        }
    }

    /// <summary>
    /// A configuration write (bumping the config version) and the event it causes, in one transaction.
    /// <paramref name="eventOf"/> runs before the statement, so it can read the row as it was; null = no event.
    /// </summary>
    /// <param name="afterEvent">Runs last, with the event (null when there was none): what the change causes besides it.</param>
    private Task WriteConfigWithEventAsync(
        string sql, object parameters, StoreConflictException onConstraint,
        Func<DbConnection, DbTransaction, CancellationToken, Task<WebhookEvent?>> eventOf, CancellationToken cancellationToken, Unchanged? unchanged = null,
        Func<DbConnection, DbTransaction, WebhookEvent?, CancellationToken, Task>? afterEvent = null, string reference = "") =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            var webhookEvent = await eventOf(connection, transaction, ct);
            try
            {
                await ExecuteOrUpdateIfUnchangedAsync(connection, transaction, sql, parameters, unchanged, ct);
            }
            catch (Exception ex) when (IsConstraintViolation(ex))
            {
                throw ConflictOf(ex, onConstraint, reference);
            }

            await BumpVersionAsync(connection, transaction, ct);
            if (webhookEvent is not null)
            {
                await AppendWebhookEventAsync(connection, transaction, webhookEvent, null, ct);
            }

            if (afterEvent is not null)
            {
                await afterEvent(connection, transaction, webhookEvent, ct);
            }

            return true;
        }, cancellationToken);

    public void EnableUsageAlerts(double threshold)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threshold);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(threshold, 1);
        _usageAlertShare = threshold;
    }

    /// <summary>
    /// Inside a usage batch's transaction, after its quota units were added: for each user and month the batch touched,
    /// records <c>usage.threshold</c> / <c>usage.limit</c> when the stored total has reached the share of the plan's
    /// quota, at most once per user, month and kind. The mark's primary key makes that hold across instances: of two
    /// batches that both see the crossing, the second's insert finds the first's row (PostgreSQL waits for it to
    /// commit) and records nothing.
    /// </summary>
    private protected async Task RecordUsageCrossingsAsync(DbConnection connection, DbTransaction transaction, IReadOnlyList<UsageEvent> events, CancellationToken ct)
    {
        if (_usageAlertShare is not { } share)
        {
            return;
        }

        Dictionary<(string UserId, DateTimeOffset Period), DateTimeOffset>? touched = null;
        for (var i = 0; i < events.Count; i++)
        {
            var e = events[i];
            if (e.UserId == UsageEvent.Anonymous || e.Units <= 0)
            {
                continue;
            }

            touched ??= [];
            var key = (e.UserId, QuotaPeriod.StartOf(e.Timestamp));
            touched[key] = touched.TryGetValue(key, out var at) && at > e.Timestamp ? at : e.Timestamp;
        }

        if (touched is null)
        {
            return;
        }

        // One query per month and kind for every user of the batch: one per user and kind compiled and ran a statement a
        // thousand times for a batch of 500 users, which held the writer (and the usage queue) back several times over.
        foreach (var month in touched.GroupBy(t => t.Key.Period))
        {
            var newest = month.ToDictionary(t => t.Key.UserId, t => t.Value, StringComparer.Ordinal);
            var (users, ids) = UsersAmong(newest.Keys);
            foreach (var alert in UsageAlertKinds(share))
            {
                await RecordCrossingsAsync(connection, transaction, users, ids, month.Key, alert, user => newest[user], ct);
            }
        }
    }

    /// <summary>
    /// Inside the transaction of a plan change, after it was written: <paramref name="userId"/> moved to another plan
    /// (operator, admin API, billing). See <see cref="RecordPlanChangeCrossingsAsync"/>.
    /// </summary>
    private protected Task RecordUserPlanCrossingsAsync(DbConnection connection, DbTransaction transaction, string userId, DateTimeOffset at, CancellationToken ct) =>
        RecordPlanChangeCrossingsAsync(connection, transaction, CrossingsOfUser, userId, at, ct);

    /// <summary>
    /// Inside the transaction that changed plan <paramref name="planId"/>'s monthly quota, after it was written: every
    /// user on the plan. See <see cref="RecordPlanChangeCrossingsAsync"/>.
    /// </summary>
    private protected Task RecordPlanQuotaCrossingsAsync(DbConnection connection, DbTransaction transaction, string planId, DateTimeOffset at, CancellationToken ct) =>
        RecordPlanChangeCrossingsAsync(connection, transaction, CrossingsOfPlan, planId, at, ct);

    /// <summary>
    /// A plan change can put users past a line with no usage added: a refused request makes no usage event, so no later
    /// batch would find the crossing, and a user refused for their quota would never be reported. For the users
    /// <paramref name="users"/> selects, the stored total of the quota period containing <paramref name="at"/> is
    /// compared with the quota of the plan they are on now, and each crossing is recorded as a usage batch records it:
    /// the same marks, so once per user, period and kind whichever path (on whichever instance) finds it first.
    /// </summary>
    private async Task RecordPlanChangeCrossingsAsync(
        DbConnection connection, DbTransaction transaction, string users, string reference, DateTimeOffset at, CancellationToken ct)
    {
        if (_usageAlertShare is not { } share)
        {
            return;
        }

        var period = QuotaPeriod.StartOf(at);
        await LockPlanAndQuotaRowsAsync(connection, transaction, users, reference, period, ct);
        foreach (var alert in UsageAlertKinds(share))
        {
            await RecordCrossingsAsync(connection, transaction, users, new DynamicParameters(new { Ref = reference }), period, alert, _ => at, ct);
        }
    }

    /// <summary>
    /// Before a plan change reads the stored totals of the users <paramref name="users"/> selects: where the engine has
    /// row locks, waits for and holds what a concurrent usage batch or quota change writes, so that of the two one
    /// always reads the other's outcome (nothing where writers take turns, as on SQLite).
    /// </summary>
    private protected virtual Task LockPlanAndQuotaRowsAsync(
        DbConnection connection, DbTransaction transaction, string users, string reference, DateTimeOffset period, CancellationToken ct) =>
        Task.CompletedTask;

    /// <summary>The condition on <c>@Ref</c> that selects one user's quota row (<see cref="RecordCrossingsAsync"/>).</summary>
    private const string CrossingsOfUser = "u.id = @Ref";

    /// <summary>The condition that selects the quota rows of <paramref name="ids"/>, and its parameters (<see cref="RecordCrossingsAsync"/>).</summary>
    private static (string Condition, DynamicParameters Parameters) UsersAmong(IEnumerable<string> ids) => Among("u.id", ids);

    /// <summary>The condition <c><paramref name="column"/> IN (…)</c> over <paramref name="values"/> (not empty), and its parameters, on either engine.</summary>
    private static (string Condition, DynamicParameters Parameters) Among(string column, IEnumerable<string> values)
    {
        // Numbered parameters, written out: Dapper expands a list for IN on SQLite but sends it as an array on PostgreSQL.
        var parameters = new DynamicParameters();
        var names = new List<string>();
        foreach (var value in values)
        {
            var name = "U" + names.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
            parameters.Add(name, value);
            names.Add("@" + name);
        }

        return ($"{column} IN ({string.Join(", ", names)})", parameters);
    }

    /// <summary>The condition on <c>@Ref</c> that selects the quota rows of a plan's users (<see cref="RecordCrossingsAsync"/>).</summary>
    private const string CrossingsOfPlan = "u.plan_id = @Ref";

    /// <summary>
    /// For the users <paramref name="users"/> selects (a condition on <c>u</c>, the user, with <paramref name="selecting"/>'s parameters): each one whose
    /// stored total in <paramref name="period"/> has reached <paramref name="alert"/>'s share of the quota of the plan
    /// they are on and who has no mark of that kind yet gets the mark and the event, dated <paramref name="at"/> of the
    /// user, in <paramref name="transaction"/>.
    /// </summary>
    private async Task RecordCrossingsAsync(
        DbConnection connection, DbTransaction transaction, string users, DynamicParameters selecting, DateTimeOffset period,
        (string Kind, string Type, double Share) alert, Func<string, DateTimeOffset> at, CancellationToken ct)
    {
        var parameters = new DynamicParameters(selecting);
        parameters.AddDynamicParams(new { Period = StoredValues.Time(period), alert.Share, alert.Kind });
        var crossings = await QueryAsync<UsageCrossingRow>(connection, transaction, $"""
            SELECT q.user_id AS UserId, u.plan_id AS PlanId, p.requests_per_month AS Quota, q.used AS Used FROM quota_usage q
            JOIN users u ON u.id = q.user_id JOIN plans p ON p.id = u.plan_id
            WHERE {users} AND q.period_start = @Period AND p.requests_per_month > 0 AND q.used >= @Share * p.requests_per_month
              AND NOT EXISTS (SELECT 1 FROM webhook_usage_marks m WHERE m.user_id = q.user_id AND m.period_start = q.period_start AND m.kind = @Kind)
            ORDER BY q.user_id
            """, parameters, ct);
        if (crossings.Count == 0)
        {
            return;
        }

        // A plan change can put every user of a plan past a line at once: the three statements per user are prepared
        // once and run with each user's values (SQLite otherwise compiles each statement again for every user).
        var stored = StoredValues.Time(period);
        await using var mark = Prepared(connection, transaction, """
            INSERT INTO webhook_usage_marks (user_id, period_start, kind, created_at) VALUES (@UserId, @Period, @Kind, @At)
            ON CONFLICT (user_id, period_start, kind) DO NOTHING
            """, ("UserId", null), ("Period", stored), ("Kind", alert.Kind), ("At", null));
        await using var insertEvent = Prepared(connection, transaction, InsertWebhookEvent, ("Id", null), ("Type", alert.Type), ("UserId", null), ("Body", null), ("At", null));
        await using var queue = Prepared(connection, transaction, QueueDeliveries(SubscribedEndpoints), ("EventId", null), ("Type", alert.Type), ("At", null));
        foreach (var crossed in crossings)
        {
            var crossedAt = at(crossed.UserId);
            var storedAt = StoredValues.Time(crossedAt);
            mark.Parameters["@UserId"].Value = crossed.UserId;
            mark.Parameters["@At"].Value = storedAt;
            if (await mark.ExecuteNonQueryAsync(ct) != 1)
            {
                continue; // a concurrent usage batch marked it first and sends its event
            }

            var webhookEvent = WebhookPayloads.Usage(alert.Type, crossed.UserId, crossed.PlanId, period, crossed.Quota, crossed.Used,
                alert.Kind == "threshold" ? alert.Share : null, crossedAt);
            insertEvent.Parameters["@Id"].Value = webhookEvent.Id;
            insertEvent.Parameters["@UserId"].Value = webhookEvent.UserId;
            insertEvent.Parameters["@Body"].Value = webhookEvent.Body;
            insertEvent.Parameters["@At"].Value = storedAt;
            await insertEvent.ExecuteNonQueryAsync(ct);
            queue.Parameters["@EventId"].Value = webhookEvent.Id;
            queue.Parameters["@At"].Value = storedAt;
            if (await queue.ExecuteNonQueryAsync(ct) > 0)
            {
                _queuedIn.AddOrUpdate(transaction, transaction);
            }
        }
    }

    /// <summary>A command with named parameters (null: set before each run), prepared for running many times in <paramref name="transaction"/>.</summary>
    private static DbCommand Prepared(DbConnection connection, DbTransaction transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@" + name;
            parameter.Value = value ?? DBNull.Value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    private static (string Kind, string Type, double Share)[] UsageAlertKinds(double share) =>
        [("threshold", WebhookEventTypes.UsageThreshold, share), ("limit", WebhookEventTypes.UsageLimit, 1.0)];

    private sealed class UsageCrossingRow
    {
        public string UserId { get; init; } = "";
        public string PlanId { get; init; } = "";
        public long Quota { get; init; }
        public long Used { get; init; }
    }

    /// <summary>The deliveries <paramref name="rows"/> with the attempts <paramref name="attemptsSql"/> reads of them (newest first).</summary>
    private static async Task<IReadOnlyList<WebhookDelivery>> WithAttemptsAsync(
        DbConnection connection, IReadOnlyList<WebhookDeliveryRow> rows, string attemptsSql, object? parameters, CancellationToken ct)
    {
        if (rows.Count == 0)
        {
            return [];
        }

        var attempts = (await QueryAsync<WebhookAttemptRow>(connection, null, attemptsSql, parameters, ct))
            .GroupBy(a => a.DeliveryId)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<WebhookAttempt>)g.Select(a => a.ToAttempt()).ToList());
        return rows.Select(r => r.ToDelivery(attempts.GetValueOrDefault(r.Id, []))).ToList();
    }

    /// <summary>
    /// Delivery ids written into an <c>IN (…)</c> list: they are numbers from the store itself, and a list parameter is
    /// expanded by Dapper on SQLite but sent as one array on PostgreSQL, so neither engine's syntax fits both.
    /// </summary>
    private static string IdList(IEnumerable<long> ids) => string.Join(", ", ids.Select(id => id.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>
    /// An endpoint as listed and managed: without its secret, which is decrypted only to sign (<see cref="ToWork"/>), so
    /// an endpoint written with another <c>APIGATE_SECRET_KEY</c> can still be listed, disabled and deleted.
    /// </summary>
    private static WebhookEndpointDefinition ToWebhookEndpoint(WebhookEndpointRow row) => row.ToDefinition();
}
