using ApiGate.Core.Billing;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Identity;
using ApiGate.Core.Quotas;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using ApiGate.Core.Webhooks;
using ApiGate.Storage.Rows;
using System.Data.Common;
using Dapper;

namespace ApiGate.Storage.Sql;

/// <summary>Plans, users, API keys, entitlements and quota usage.</summary>
public abstract partial class SqlGatewayStore
{
    private static readonly RowTable<PlanRow> Plans = new("plans", "id");

    private static readonly RowTable<UserRow> Users = new("users", "email, id");

    // Emails are unique (ignoring case), so "email, id" orders as email does; the engine compares @AfterValue with the
    // column's own collation, the one ORDER BY uses. The first condition is a range the index can seek to (as the keys').
    private static readonly Keyset<UserRow> UsersKeyset = new("(email >= @AfterValue AND (email > @AfterValue OR id > @AfterId))", static r => new(r.Email, r.Id));

    private static readonly RowTable<UserIdentityRow> UserIdentities = new("user_identities", "issuer, subject");

    private static readonly RowTable<ApiKeyRow> Keys = new("api_keys", "created_at DESC, id");

    private static readonly Keyset<ApiKeyRow> KeysKeyset = new("(created_at <= @AfterValue AND (created_at < @AfterValue OR id > @AfterId))", static r => new(r.CreatedAt, r.Id));

    private static readonly RowTable<EntitlementRow> Entitlements = new("entitlements", "name");

    private static readonly RowTable<PlanEntitlementRow> PlanEntitlements = new("plan_entitlements", "plan_id, entitlement_id");

    public Task<IReadOnlyList<PlanDefinition>> ListPlansAsync(CancellationToken cancellationToken) => ListAsync(Plans, r => r.ToDefinition(), "", null, cancellationToken);

    public Task<PlanDefinition?> FindPlanAsync(string id, CancellationToken cancellationToken) => FindAsync(Plans, r => r.ToDefinition(), "WHERE id = @Ref", id, cancellationToken);

    public Task CreatePlanAsync(PlanDefinition plan, CancellationToken cancellationToken) =>
        WritePlanAsync(Plans.Insert, plan, cancellationToken);

    public Task UpdatePlanAsync(PlanDefinition plan, DateTimeOffset readAt, CancellationToken cancellationToken) =>
        WritePlanAsync(Plans.Update, plan, cancellationToken, readAt);

    public Task DeletePlanAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken) =>
        DeleteGuardedAsync("plans", id, readAt, "SELECT email FROM users WHERE plan_id = @Ref ORDER BY email LIMIT 5",
            users => new StoreConflictException("plan", $"plan has users ({string.Join(", ", users)}{(users.Count == 5 ? ", …" : "")}): move them to another plan first"),
            ["DELETE FROM plan_entitlements WHERE plan_id = @Id"], cancellationToken);

    public Task<IReadOnlyList<UserDefinition>> ListUsersAsync(CancellationToken cancellationToken) => ListAsync(Users, r => r.ToDefinition(), "", null, cancellationToken);

    public Task<StorePage<UserDefinition>> ListUsersPageAsync(string? emailContains, int offset, ListCursor? after, int count, CancellationToken cancellationToken) =>
        emailContains is null
            ? PageAsync(Users, r => r.ToDefinition(), "", null, offset, UsersKeyset, after, count, cancellationToken)
            : emailContains.Contains('\0', StringComparison.Ordinal)
            ? Task.FromResult(new StorePage<UserDefinition>([], 0)) // no email holds a NUL, and PostgreSQL cannot be asked about one (see FindAsync)
            : PageAsync(Users, r => r.ToDefinition(), EmailContains(emailContains, out var patterns), patterns, offset, UsersKeyset, after, count, cancellationToken);

    /// <summary>
    /// The condition that finds the users whose email contains <paramref name="text"/>, with <paramref name="parameters"/>
    /// for it: the case of ASCII letters is ignored, in the email and in the text, and every other character is compared
    /// as it is, so that SQLite and PostgreSQL find the same users (<c>lower()</c> folds by the database's locale on
    /// PostgreSQL and ASCII only on SQLite). Stored emails are <see cref="Emails.Canonical"/>, their other letters lower
    /// case, so a text with such a capital (<c>ÉLODIE</c>) is also looked for in that form (<c>élodie</c>); the text as
    /// typed still finds an email stored before that rule, or with a dotted capital I (U+0130), spelled that way.
    /// </summary>
    private string EmailContains(string text, out object parameters)
    {
        var asTyped = AsciiLowerCase(text);
        var canonical = AsciiLowerCase(Emails.Canonical(text));
        parameters = new { Pattern = ContainsPattern(asTyped), CanonicalPattern = ContainsPattern(canonical) };
        var email = AsciiLower("email");
        return string.Equals(asTyped, canonical, StringComparison.Ordinal)
            ? $@"WHERE {email} LIKE @Pattern ESCAPE '\'"
            : $@"WHERE ({email} LIKE @Pattern ESCAPE '\' OR {email} LIKE @CanonicalPattern ESCAPE '\')";
    }

    /// <summary>
    /// By id, then by the address as stored, then by <c>email_key</c>: an account stored before the spelling rules
    /// (<c>bob@XN--BCHER-KVA.example</c>, <c>bob@bücher。example</c>) is found from the spelling typed now. Where several
    /// such accounts share one mailbox, the address typed exactly finds its own, and another spelling the one created first.
    /// </summary>
    public async Task<UserDefinition?> FindUserAsync(string idOrEmail, CancellationToken cancellationToken) =>
        await FindByIdOrNameAsync(Users, r => r.ToDefinition(), EmailIsRef, Emails.Canonical(idOrEmail), cancellationToken)
        ?? (Emails.Key(idOrEmail) is { Length: > 0 } key ? await FindAsync(Users, r => r.ToDefinition(), EmailKeyIsRef, key, cancellationToken) : null);

    /// <summary>The user whose <c>email_key</c> is <c>@Ref</c>; of several (stored before the spelling rules), the one created first.</summary>
    private const string EmailKeyIsRef =
        "WHERE email_key = @Ref AND id = (SELECT id FROM users WHERE email_key = @Ref ORDER BY created_at, id LIMIT 1)";

    /// <summary>
    /// The condition that finds the user whose email is <c>@Ref</c>, ignoring the case of ASCII letters only (as SQLite's
    /// <c>NOCASE</c> does; stored and looked-up addresses are <see cref="Emails.Canonical"/>, their other letters lower
    /// case already), written so that the engine's unique index on the email answers it (PostgreSQL's is on
    /// <c>lower(email)</c>).
    /// </summary>
    /// <remarks>
    /// <c>lower()</c> alone folds by the database's locale, which goes further: it makes a dotted capital I (U+0130) an
    /// <c>i</c>, so an address stored with one (<c>ALİCE@…</c>, from before such addresses were refused) was found by
    /// <c>alice@…</c> on PostgreSQL and not on SQLite. The index narrows the search; the <c>translate()</c>, which folds
    /// A–Z and nothing else, decides.
    /// </remarks>
    internal virtual string EmailIsRef =>
        $"WHERE lower(email) = lower(@Ref) AND {AsciiLower("email")} = {AsciiLower("@Ref")}";

    public Task CreateUserAsync(UserDefinition user, CancellationToken cancellationToken) =>
        WriteConfigWithEventAsync(Users.Insert, UserRow.From(user), Duplicate("email", $"a user with email '{user.Email}' already exists"),
            (_, _, _) => Task.FromResult<WebhookEvent?>(WebhookPayloads.UserCreated(user)), cancellationToken, reference: "plan");

    public Task UpdateUserAsync(UserDefinition user, DateTimeOffset readAt, CancellationToken cancellationToken) =>
        UpdateUserAsync(user, readAt, freePlanOnly: false, cancellationToken);

    public Task UpdateUserToFreePlanAsync(UserDefinition user, DateTimeOffset readAt, CancellationToken cancellationToken) =>
        UpdateUserAsync(user, readAt, freePlanOnly: true, cancellationToken);

    /// <param name="freePlanOnly">Written only while the user's new plan is one a customer may take without paying (<see cref="UpdateUserToFreePlanAsync"/>).</param>
    private Task UpdateUserAsync(UserDefinition user, DateTimeOffset readAt, bool freePlanOnly, CancellationToken cancellationToken) =>
        WriteConfigWithEventAsync(Users.Update, UserRow.From(user), Duplicate("email", $"a user with email '{user.Email}' already exists"),
            async (connection, transaction, ct) =>
            {
                // Checked in the transaction that writes the user, and held (PostgreSQL: FOR SHARE; SQLite's write transaction
                // excludes every other writer) until it commits: an operator hiding the plan or giving it a price after the
                // caller's check either lands first, and this write is refused, or waits for it.
                if (freePlanOnly && await ScalarAsync(connection, transaction,
                        $"SELECT COUNT(*) FROM (SELECT id FROM plans WHERE id = @PlanId AND enabled = @Yes AND visible = @Yes AND price_monthly = 0 AND overage_price = 0{ShareRowLock}) offered",
                        ct, new { user.PlanId, Yes = true }) == 0)
                {
                    throw new StoreConflictException("plan", $"plan '{user.PlanId}' is no longer one customers may choose free of charge; nothing was changed");
                }

                // Read before the UPDATE runs (the callback runs first): the plan and address the user had. A change committed
                // after this read changed updated_at too, so the UPDATE then finds nothing to change and nothing is written.
                var (previousPlan, previousEmail, previousStatus) = (await QueryAsync<(string? PlanId, string? Email, string? Status)>(connection, transaction,
                    "SELECT plan_id, email, status FROM users WHERE id = @Id", new { user.Id }, ct)).FirstOrDefault();
                // A new status or plan is the operator's word on the user, so a billing suspension stops being the last one
                // (no billing hold, and a later payment does not reactivate them); a new name or address leaves it standing.
                if (previousPlan is not null && (previousPlan != user.PlanId || previousStatus != StoredValues.Enum(user.Status)))
                {
                    await ExecuteAsync(connection, transaction,
                        "UPDATE billing_customers SET suspended_by_billing = @No WHERE user_id = @Id AND suspended_by_billing = @Yes", ct,
                        new { user.Id, No = false, Yes = true });
                }

                // A new address ends the portal links mailed to the old one, in this transaction: a reset link that reached
                // the old mailbox (the reason for the change, perhaps) must not take the account over under its new address.
                if (previousEmail is not null && !string.Equals(previousEmail, user.Email, StringComparison.OrdinalIgnoreCase))
                {
                    await ExecuteAsync(connection, transaction, "UPDATE portal_tokens SET used_at = @At WHERE user_id = @Id AND used_at IS NULL", ct,
                        new { user.Id, At = StoredValues.Time(user.UpdatedAt) });
                }

                return previousPlan is not null && previousPlan != user.PlanId ? WebhookPayloads.PlanChanged(user, previousPlan, user.UpdatedAt) : null;
            }, cancellationToken, new Unchanged(Users.Name, user.Id, readAt, "user", user.Email),
            // After plan.changed, so a receiver hears of the new plan before the crossing it causes.
            (connection, transaction, planChanged, ct) =>
                planChanged is null ? Task.CompletedTask : RecordUserPlanCrossingsAsync(connection, transaction, user.Id, user.UpdatedAt, ct),
            reference: "plan");

    public Task DeleteUserAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken) =>
        DeleteGuardedAsync("users", id, readAt, null, null,
            ["DELETE FROM api_keys WHERE user_id = @Id", "DELETE FROM portal_tokens WHERE user_id = @Id", "DELETE FROM portal_accounts WHERE user_id = @Id",
             "DELETE FROM user_identities WHERE user_id = @Id"], cancellationToken);

    public async Task<UserDefinition?> FindUserByIdentityAsync(string issuer, string subject, CancellationToken cancellationToken) =>
        (await FindOwnerByIdentityAsync(issuer, subject, cancellationToken))?.User;

    public Task<CredentialOwner?> FindOwnerByIdentityAsync(string issuer, string subject, CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) =>
        {
            var sql = $"SELECT {Users.ColumnsOf("u")}, {OwnerSubscriptionColumns} FROM user_identities i JOIN users u ON u.id = i.user_id {OwnerSubscriptionJoin} " +
                "WHERE i.subject = @Subject AND (i.issuer = @Issuer OR i.issuer = @Other) ORDER BY CASE WHEN i.issuer = @Issuer THEN 0 ELSE 1 END LIMIT 1";
            await using var reader = await ReadRowsAsync(connection, new CommandDefinition(sql,
                new { Issuer = issuer, Other = UserIdentity.OtherSpelling(issuer), Subject = subject }, cancellationToken: ct));
            var user = reader.GetRowParser<UserRow>(length: Users.ColumnCount);
            return await reader.ReadAsync(ct) ? new CredentialOwner(user(reader).ToDefinition(), PayingAt(reader, Users.ColumnCount)) : null;
        }, cancellationToken);

    /// <summary>The owner's billing subscription, selected after the user's columns (none: two NULLs).</summary>
    private const string OwnerSubscriptionColumns = "b.subscription_id, b.subscription_status";

    /// <summary>Joins the owner's (<c>u</c>) billing customer, if any: one row per user (<c>user_id</c> is its key).</summary>
    private const string OwnerSubscriptionJoin = "LEFT JOIN billing_customers b ON b.user_id = u.id";

    /// <summary>Whether the subscription read at <paramref name="ordinal"/> (<see cref="OwnerSubscriptionColumns"/>) is a paying one.</summary>
    private static bool PayingAt(DbDataReader reader, int ordinal) =>
        !reader.IsDBNull(ordinal) && SubscriptionOrdering.IsPaying(reader.GetString(ordinal), reader.GetString(ordinal + 1));

    public Task<IReadOnlyList<UserIdentity>> ListIdentitiesAsync(string userId, CancellationToken cancellationToken) =>
        ListAsync(UserIdentities, r => r.ToDefinition(), "WHERE user_id = @Ref", new { Ref = userId }, cancellationToken);

    public Task LinkIdentityAsync(UserIdentity identity, bool configuration, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            // The issuer spelled with and without its trailing slash is one issuer but two primary keys, so the key alone
            // lets two links of the subject under the two spellings, made at once, both insert: links of the subject take
            // turns (LockIdentityAsync) and the other spelling is looked for here, inside the write.
            await LockIdentityAsync(connection, transaction, identity.Issuer, identity.Subject, ct);
            var linked = Duplicate("subject", "this identity is already linked to a user");
            if (await FirstValueAsync<string>(connection, transaction, "SELECT user_id FROM user_identities WHERE issuer = @Other AND subject = @Subject",
                    new { Other = UserIdentity.OtherSpelling(identity.Issuer), identity.Subject }, ct) is not null)
            {
                throw linked;
            }

            try
            {
                await ExecuteAsync(connection, transaction, UserIdentities.Insert, ct, UserIdentityRow.From(identity));
            }
            catch (Exception ex) when (IsConstraintViolation(ex))
            {
                throw ConflictOf(ex, linked, "user", field: "");
            }

            if (configuration)
            {
                await BumpVersionAsync(connection, transaction, ct);
            }

            return true;
        }, cancellationToken);

    /// <summary>
    /// Makes links of one subject of one issuer (however its trailing slash is spelled) take turns until the transaction
    /// ends, where writers do not exclude each other (PostgreSQL); nothing otherwise (SQLite).
    /// </summary>
    private protected virtual Task LockIdentityAsync(DbConnection connection, DbTransaction transaction, string issuer, string subject, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    public Task<bool> UnlinkIdentityAsync(string issuer, string subject, string userId, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            var removed = await ExecuteAsync(connection, transaction,
                "DELETE FROM user_identities WHERE issuer = @Issuer AND subject = @Subject AND user_id = @UserId", ct,
                new { Issuer = issuer, Subject = subject, UserId = userId });
            if (removed > 0)
            {
                await BumpVersionAsync(connection, transaction, ct);
            }

            return removed > 0;
        }, cancellationToken);

    public Task<IReadOnlyList<ApiKeyDefinition>> ListKeysAsync(string? userId, CancellationToken cancellationToken) =>
        userId is null
            ? ListAsync(Keys, r => r.ToDefinition(), "", null, cancellationToken)
            : ListAsync(Keys, r => r.ToDefinition(), "WHERE user_id = @Ref", new { Ref = userId }, cancellationToken);

    public Task<StorePage<ApiKeyDefinition>> ListKeysPageAsync(string? userId, int offset, ListCursor? after, int count, CancellationToken cancellationToken) =>
        userId is null
            ? PageAsync(Keys, r => r.ToDefinition(), "", null, offset, KeysKeyset, after, count, cancellationToken)
            : PageAsync(Keys, r => r.ToDefinition(), "WHERE user_id = @Ref", new { Ref = userId }, offset, KeysKeyset, after, count, cancellationToken);

    public Task<ApiKeyDefinition?> FindKeyAsync(string id, CancellationToken cancellationToken) => FindAsync(Keys, r => r.ToDefinition(), "WHERE id = @Ref", id, cancellationToken);

    public Task CreateKeyAsync(ApiKeyDefinition key, CancellationToken cancellationToken, int? maxActiveForUser = null) =>
        WriteConfigWithEventAsync(Keys.Insert, ApiKeyRow.From(key), Duplicate("key", "key collision; create it again"),
            async (connection, transaction, ct) =>
            {
                if (maxActiveForUser is { } max)
                {
                    // The count and the insert in one transaction, the user's row locked first (PostgreSQL; a SQLite write
                    // transaction excludes every other writer already): two creations at once cannot both see room.
                    await LockUserAsync(connection, transaction, key.UserId, ct);
                    if (await ScalarAsync(connection, transaction, "SELECT COUNT(*) FROM api_keys WHERE user_id = @UserId AND revoked_at IS NULL", ct,
                            new { key.UserId }) >= max)
                    {
                        throw new StoreConflictException("keys", $"the user has {max} unrevoked keys already");
                    }
                }

                return WebhookPayloads.KeyCreated(key);
            }, cancellationToken, reference: "user");

    /// <summary>
    /// Makes plan writes take turns until the transaction ends, where writers do not exclude each other (PostgreSQL);
    /// nothing otherwise (a SQLite write transaction excludes every other writer already).
    /// </summary>
    private protected virtual Task LockPlansAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>Locks the user's row until the transaction ends, where the engine has row locks; nothing otherwise.</summary>
    private protected virtual Task LockUserAsync(DbConnection connection, DbTransaction transaction, string userId, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    public Task<bool> RevokeKeyAsync(string id, DateTimeOffset at, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            // Only the revocation that takes effect is an event; revoking a revoked key again changes nothing. The UPDATE
            // itself checks that the key is not revoked yet: of two revocations at once, the second (PostgreSQL re-reads
            // the row once the first commits) changes nothing and records nothing — a read before it would let both see
            // an unrevoked key and each record an event.
            var revoked = await ExecuteAsync(connection, transaction, "UPDATE api_keys SET revoked_at = @At WHERE id = @Id AND revoked_at IS NULL", ct,
                new { Id = id, At = StoredValues.Time(at) }) == 1;
            await BumpVersionAsync(connection, transaction, ct);
            var key = (await QueryAsync<ApiKeyRow>(connection, transaction, Keys.Select("WHERE id = @Id"), new { Id = id }, ct)).FirstOrDefault();
            if (revoked && key is not null)
            {
                await AppendWebhookEventAsync(connection, transaction, WebhookPayloads.KeyRevoked(key.ToDefinition(), at), null, ct);
            }

            return key is not null;
        }, cancellationToken);

    public Task<IReadOnlyList<(ApiKeyDefinition Key, CredentialOwner Owner)>> FindKeysByPrefixAsync(string prefix, CancellationToken cancellationToken) =>
        UseAsync<IReadOnlyList<(ApiKeyDefinition, CredentialOwner)>>(async (connection, ct) =>
        {
            // Key columns, then user columns, then the user's subscription.
            var sql = $"SELECT {Keys.ColumnsOf("k")}, {Users.ColumnsOf("u")}, {OwnerSubscriptionColumns} " +
                $"FROM api_keys k JOIN users u ON u.id = k.user_id {OwnerSubscriptionJoin} WHERE k.prefix = @Prefix";
            await using var reader = await ReadRowsAsync(connection, new CommandDefinition(sql, new { Prefix = prefix }, cancellationToken: ct));
            var key = reader.GetRowParser<ApiKeyRow>(length: Keys.ColumnCount);
            var user = reader.GetRowParser<UserRow>(startIndex: Keys.ColumnCount, length: Users.ColumnCount);
            var rows = new List<(ApiKeyDefinition, CredentialOwner)>();
            while (await reader.ReadAsync(ct))
            {
                rows.Add((key(reader).ToDefinition(), new CredentialOwner(user(reader).ToDefinition(), PayingAt(reader, Keys.ColumnCount + Users.ColumnCount))));
            }

            return rows;
        }, cancellationToken);

    public Task TouchKeysAsync(IReadOnlyDictionary<string, DateTimeOffset> lastUsed, CancellationToken cancellationToken) =>
        lastUsed.Count == 0
            ? Task.CompletedTask
            : WriteTransactionAsync(async (connection, transaction, ct) =>
            {
                foreach (var (id, at) in lastUsed)
                {
                    await ExecuteAsync(connection, transaction, "UPDATE api_keys SET last_used_at = @At WHERE id = @Id", ct, new { Id = id, At = StoredValues.Time(at) });
                }

                return true; // no version bump: usage is not configuration
            }, cancellationToken);

    public Task<IReadOnlyList<EntitlementDefinition>> ListEntitlementsAsync(CancellationToken cancellationToken) => ListAsync(Entitlements, r => r.ToDefinition(), "", null, cancellationToken);

    public Task<EntitlementDefinition?> FindEntitlementAsync(string idOrName, CancellationToken cancellationToken) =>
        FindByIdOrNameAsync(Entitlements, r => r.ToDefinition(), "WHERE name = @Ref", idOrName, cancellationToken);

    public Task CreateEntitlementAsync(EntitlementDefinition entitlement, string headerField, CancellationToken cancellationToken) =>
        WriteEntitlementsAsync("name", async (connection, transaction, ct) =>
        {
            try
            {
                await ExecuteAsync(connection, transaction, Entitlements.Insert, ct, EntitlementRow.From(entitlement));
            }
            catch (Exception ex) when (IsConstraintViolation(ex))
            {
                throw ConflictOf(ex, Duplicate("name", $"an entitlement named '{entitlement.Name}' already exists"));
            }

            await BumpVersionAsync(connection, transaction, ct);
            return true;
        }, cancellationToken, headerOf: (entitlement, headerField));

    public Task UpdateEntitlementAsync(EntitlementDefinition entitlement, DateTimeOffset readAt, string headerField, CancellationToken cancellationToken) =>
        WriteEntitlementsAsync("", async (connection, transaction, ct) =>
        {
            try
            {
                await UpdateIfUnchangedAsync(connection, transaction, Entitlements.Update, EntitlementRow.From(entitlement),
                    new Unchanged(Entitlements.Name, entitlement.Id, readAt, "entitlement", entitlement.Name), ct);
            }
            catch (Exception ex) when (IsConstraintViolation(ex))
            {
                throw ConflictOf(ex, Duplicate("name", $"an entitlement named '{entitlement.Name}' already exists"));
            }

            // The plans' values as they are now, read after the UPDATE holds the entitlement's row: a value given meanwhile
            // (its write holds the row shared, see CreatePlanEntitlementAsync) has committed by then and must fit the new type.
            foreach (var assignment in await QueryAsync<PlanEntitlementRow>(connection, transaction, PlanEntitlements.Select("WHERE entitlement_id = @Id"), new { entitlement.Id }, ct))
            {
                if (EntitlementResolver.ValidateValue(entitlement.ValueType, assignment.Value) is { } problem)
                {
                    throw new StoreConflictException("value_type", $"plan '{assignment.PlanId}' has value {problem}; change or delete it first");
                }
            }

            await BumpVersionAsync(connection, transaction, ct);
            return true;
        }, cancellationToken, headerOf: (entitlement, headerField));

    public Task DeleteEntitlementAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken) =>
        DeleteGuardedAsync("entitlements", id, readAt, null, null, ["DELETE FROM plan_entitlements WHERE entitlement_id = @Id"], cancellationToken);

    public Task<IReadOnlyList<PlanEntitlement>> ListPlanEntitlementsAsync(string? planId, CancellationToken cancellationToken) =>
        planId is null
            ? ListAsync(PlanEntitlements, r => r.ToDefinition(), "", null, cancellationToken)
            : ListAsync(PlanEntitlements, r => r.ToDefinition(), "WHERE plan_id = @Ref", new { Ref = planId }, cancellationToken);

    public Task<PlanEntitlement?> FindPlanEntitlementAsync(string id, CancellationToken cancellationToken) =>
        FindAsync(PlanEntitlements, r => r.ToDefinition(), "WHERE id = @Ref", id, cancellationToken);

    public Task CreatePlanEntitlementAsync(PlanEntitlement assignment, CancellationToken cancellationToken) =>
        WriteEntitlementsAsync("value", async (connection, transaction, ct) =>
        {
            await CheckValueFitsTypeAsync(connection, transaction, assignment.EntitlementId, assignment.Value, ct);
            try
            {
                await ExecuteAsync(connection, transaction, PlanEntitlements.Insert, ct, PlanEntitlementRow.From(assignment));
            }
            catch (Exception ex) when (IsConstraintViolation(ex))
            {
                throw ConflictOf(ex, Duplicate("entitlement_id", "this plan already has a value for this entitlement; update that one instead"));
            }

            await BumpVersionAsync(connection, transaction, ct);
            return true;
        }, cancellationToken);

    public Task<PlanEntitlement?> UpdatePlanEntitlementAsync(string id, string? value, bool? enabled, CancellationToken cancellationToken) =>
        WriteEntitlementsAsync(value is not null ? "value" : "enabled", async (connection, transaction, ct) =>
        {
            // A new value is checked as a new assignment's is, the entitlement's row held before the value's: in the
            // order an entitlement's delete takes them, so the two wait for each other instead of deadlocking.
            if (value is not null
                && (await QueryAsync<string>(connection, transaction, "SELECT entitlement_id FROM plan_entitlements WHERE id = @Id", new { Id = id }, ct))
                    .FirstOrDefault() is { } entitlementId)
            {
                await CheckValueFitsTypeAsync(connection, transaction, entitlementId, value, ct);
            }

            // Changes only what is given, so two updates of the two fields both land.
            if (await ExecuteAsync(connection, transaction,
                    "UPDATE plan_entitlements SET value = COALESCE(@Value, value), enabled = COALESCE(@Enabled, enabled) WHERE id = @Id", ct,
                    new { Id = id, Value = value, Enabled = enabled }) == 0)
            {
                return null;
            }

            var assignment = (await QueryAsync<PlanEntitlementRow>(connection, transaction, PlanEntitlements.Select("WHERE id = @Id"), new { Id = id }, ct))
                .Single().ToDefinition();
            await BumpVersionAsync(connection, transaction, ct);
            return assignment;
        }, cancellationToken, enabled == false ? EntitlementCap.DefaultSentAdvice : "");

    /// <summary>
    /// Runs <paramref name="write"/>, a change to the entitlements or to a plan's values, and refuses it (a
    /// <see cref="StoreConflictException"/> on <paramref name="field"/>; nothing written) when, measured against
    /// everything stored when it commits, it takes a plan past <see cref="EntitlementCap"/> and grows it. The services
    /// check the cap before they write, naming the field at fault; this is the check two changes made at the same time
    /// cannot both pass (each alone fitting, both together not): such writes take turns
    /// (<see cref="LockEntitlementsAsync"/>) and each measures what the one before it committed. It is also the only
    /// check of a plan's value deleted, which sends the entitlement's default again. <paramref name="advice"/> ends the
    /// refusal's message. With <paramref name="headerOf"/> (an entitlement written), the same rows refuse it, naming the
    /// field given, when another entitlement is sent as the same header: the service checks that before it writes too.
    /// </summary>
    private Task<T> WriteEntitlementsAsync<T>(
        string field, Func<DbConnection, DbTransaction, CancellationToken, Task<T>> write, CancellationToken cancellationToken, string advice = "",
        (EntitlementDefinition Entitlement, string Field)? headerOf = null) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            await LockEntitlementsAsync(connection, transaction, ct);
            var before = await ReadEntitlementsAsync(connection, transaction, ct);
            var result = await write(connection, transaction, ct);
            var after = await ReadEntitlementsAsync(connection, transaction, ct);
            if (headerOf is var (entitlement, headerField) && EntitlementResolver.HeaderTaken(entitlement, after.Entitlements) is { } taken)
            {
                throw new StoreConflictException(headerField, taken);
            }

            var plans = before.Values.Concat(after.Values).Select(v => v.PlanId).Distinct(StringComparer.Ordinal).Prepend("");
            if (EntitlementCap.Check(plans, before, after) is { } problem)
            {
                throw new StoreConflictException(field, problem.Message + advice);
            }

            return result;
        }, cancellationToken);

    private async Task<(IReadOnlyList<EntitlementDefinition> Entitlements, IReadOnlyList<PlanEntitlement> Values)> ReadEntitlementsAsync(
        DbConnection connection, DbTransaction transaction, CancellationToken ct) =>
        ((await QueryAsync<EntitlementRow>(connection, transaction, Entitlements.Select(""), null, ct)).Select(r => r.ToDefinition()).ToList(),
         (await QueryAsync<PlanEntitlementRow>(connection, transaction, PlanEntitlements.Select(""), null, ct)).Select(r => r.ToDefinition()).ToList());

    /// <summary>
    /// Makes writes of entitlements and plans' values take turns until the transaction ends, where writers do not
    /// exclude each other (PostgreSQL); nothing otherwise (a SQLite write transaction excludes every other writer already).
    /// </summary>
    private protected virtual Task LockEntitlementsAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>
    /// Inside the write of a plan's value: the entitlement's type as it is now, its row held shared until the commit
    /// (PostgreSQL; a SQLite write transaction excludes every other writer already), so a type change cannot commit
    /// between this check and the write, and one committed before it is seen here. A value that does not fit is a
    /// <see cref="StoreConflictException"/> (the service checked it against the type it read earlier).
    /// </summary>
    private async Task CheckValueFitsTypeAsync(DbConnection connection, DbTransaction transaction, string entitlementId, string value, CancellationToken ct)
    {
        var entitlement = (await QueryAsync<EntitlementRow>(connection, transaction, Entitlements.Select("WHERE id = @Id") + ShareRowLock,
            new { Id = entitlementId }, ct)).FirstOrDefault()?.ToDefinition();
        if (entitlement is not null && EntitlementResolver.ValidateValue(entitlement.ValueType, value) is { } problem)
        {
            throw new StoreConflictException("value",
                $"{problem} (entitlement '{entitlement.Name}' is {WireNames.Of(entitlement.ValueType)}; its type was changed at the same time)");
        }
    }

    /// <summary>
    /// What ends a SELECT so the rows it reads stay as read until the transaction ends (PostgreSQL: <c>FOR SHARE</c>);
    /// nothing where a write transaction excludes every other writer already (SQLite).
    /// </summary>
    private protected virtual string ShareRowLock => "";

    public Task DeletePlanEntitlementAsync(string id, CancellationToken cancellationToken) =>
        WriteEntitlementsAsync("", async (connection, transaction, ct) =>
        {
            if (await ExecuteAsync(connection, transaction, "DELETE FROM plan_entitlements WHERE id = @Id", ct, new { Id = id }) == 0)
            {
                throw DeletedMeanwhile("plan_entitlements", id);
            }

            await BumpVersionAsync(connection, transaction, ct);
            return true;
        }, cancellationToken, EntitlementCap.DefaultSentAdvice);

    public Task<IReadOnlyList<QuotaUsage>> LoadQuotaUsageAsync(DateTimeOffset periodStart, CancellationToken cancellationToken) =>
        UseAsync<IReadOnlyList<QuotaUsage>>(async (connection, ct) =>
            (await QueryAsync<QuotaUsageRow>(connection, null, "SELECT user_id, used, overage FROM quota_usage WHERE period_start = @Period",
                new { Period = StoredValues.Time(periodStart) }, ct)).Select(r => new QuotaUsage(r.UserId, periodStart, r.Used, r.Overage)).ToList(), cancellationToken);

    public Task<QuotaUsage> FindQuotaUsageAsync(string userId, DateTimeOffset periodStart, CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) =>
            (await QueryAsync<QuotaUsageRow>(connection, null, "SELECT user_id, used, overage FROM quota_usage WHERE user_id = @User AND period_start = @Period",
                new { User = userId, Period = StoredValues.Time(periodStart) }, ct)).FirstOrDefault() is { } row
                ? new QuotaUsage(row.UserId, periodStart, row.Used, row.Overage)
                : new QuotaUsage(userId, periodStart, 0, 0), cancellationToken);

    public Task<IReadOnlyList<QuotaUsage>> ListUsersNearQuotaAsync(DateTimeOffset periodStart, double share, int count, CancellationToken cancellationToken) =>
        UseAsync<IReadOnlyList<QuotaUsage>>(async (connection, ct) =>
            (await QueryAsync<QuotaUsageRow>(connection, null, """
                SELECT q.user_id, q.used, q.overage FROM quota_usage q JOIN users u ON u.id = q.user_id JOIN plans p ON p.id = u.plan_id
                WHERE q.period_start = @Period AND p.requests_per_month > 0 AND q.used >= @Share * p.requests_per_month
                ORDER BY q.used * 1.0 / p.requests_per_month DESC, q.user_id LIMIT @Count
                """, new { Period = StoredValues.Time(periodStart), Share = share, Count = count }, ct))
                .Select(r => new QuotaUsage(r.UserId, periodStart, r.Used, r.Overage)).ToList(), cancellationToken);

    public Task AddQuotaUsageAsync(IReadOnlyList<QuotaUsage> deltas, CancellationToken cancellationToken) =>
        deltas.Count == 0
            ? Task.CompletedTask
            : WriteTransactionAsync(async (connection, transaction, ct) =>
            {
                foreach (var delta in deltas)
                {
                    await AddQuotaAsync(connection, transaction, delta, ct);
                }

                return true;
            }, cancellationToken);

    private protected static Task<int> AddQuotaAsync(DbConnection connection, DbTransaction transaction, QuotaUsage delta, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction,
            "INSERT INTO quota_usage (user_id, period_start, used, overage) VALUES (@UserId, @Period, @Used, @Overage) " +
            "ON CONFLICT (user_id, period_start) DO UPDATE SET used = quota_usage.used + excluded.used, overage = quota_usage.overage + excluded.overage",
            cancellationToken, new { delta.UserId, Period = StoredValues.Time(delta.PeriodStart), delta.Used, delta.Overage });

    /// <summary>Throws when a plan other than <paramref name="planId"/> matches <paramref name="taken"/> (a condition on <c>@Price</c>).</summary>
    private async Task RefuseSharedPriceAsync(DbConnection connection, DbTransaction transaction, string planId, string field, string price, string taken,
        CancellationToken cancellationToken)
    {
        if ((await QueryAsync<string>(connection, transaction, $"SELECT id FROM plans WHERE ({taken}) AND id <> @Id ORDER BY id LIMIT 1",
                new { Price = price, Id = planId }, cancellationToken)).FirstOrDefault() is { } other)
        {
            throw new StoreConflictException(field,
                $"{field} '{price}' is plan '{other}''s already: a Stripe price must name one plan (its subscription events say only the price)");
        }
    }

    /// <summary>
    /// Inserts or (with <paramref name="readAt"/>, only if unchanged since then) updates the plan; a default plan clears the
    /// flag on every other one. Plan writes take turns (<see cref="LockPlansAsync"/>), so exactly one plan is left default
    /// and a Stripe price is never given to two plans.
    /// </summary>
    /// <remarks>
    /// An update that changes the monthly quota also records the usage crossings it causes for the plan's users
    /// (<see cref="RecordPlanQuotaCrossingsAsync"/>): lowered, it can put them past a line with no usage added.
    /// </remarks>
    private Task WritePlanAsync(string sql, PlanDefinition plan, CancellationToken cancellationToken, DateTimeOffset? readAt = null) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            // Before anything is read: two plans made default at once would otherwise each clear the flag on the plans
            // it saw (not the other, not committed yet) and both keep it.
            await LockPlansAsync(connection, transaction, ct);
            // A Stripe price names one plan: subscription events say only the price, so a price shared by two plans would
            // move a renewing subscriber to whichever of them is found first. Checked here, in the plans' turn, so two
            // plans given one price at once cannot both see it free.
            // A plan sold with its metered price alone (no stripe_price_id) is named by that price, so it counts here too;
            // and a monthly price is never another plan's metered price, nor the other way round (a subscription's
            // prices would name both plans). Paid plans may share one metered price: their own monthly prices name them.
            if (plan.StripePriceId.Length > 0)
            {
                await RefuseSharedPriceAsync(connection, transaction, plan.Id, "stripe_price_id", plan.StripePriceId,
                    "stripe_price_id = @Price OR stripe_overage_price_id = @Price", ct);
            }

            if (plan.StripeOveragePriceId.Length > 0)
            {
                await RefuseSharedPriceAsync(connection, transaction, plan.Id, "stripe_overage_price_id", plan.StripeOveragePriceId,
                    plan.StripePriceId.Length > 0 ? "stripe_price_id = @Price" : "stripe_price_id = @Price OR (stripe_price_id = '' AND stripe_overage_price_id = @Price)", ct);
            }

            var quotaBefore = readAt is null
                ? null
                : (await QueryAsync<long?>(connection, transaction, "SELECT requests_per_month FROM plans WHERE id = @Id", new { plan.Id }, ct)).FirstOrDefault();
            if (plan.IsDefault)
            {
                // The plans that lose the flag change too: a new updated_at (never the one they had), so an update of one
                // of them read before this write is refused as changed meanwhile instead of setting the flag back.
                await ExecuteAsync(connection, transaction,
                    "UPDATE plans SET is_default = FALSE, updated_at = CASE WHEN updated_at = @Now THEN @Later ELSE @Now END WHERE id <> @Id AND is_default",
                    ct, new { plan.Id, Now = StoredValues.Time(plan.UpdatedAt), Later = StoredValues.Time(plan.UpdatedAt.AddTicks(1)) });
            }

            try
            {
                await ExecuteOrUpdateIfUnchangedAsync(connection, transaction, sql, PlanRow.From(plan),
                    readAt is { } read ? new Unchanged(Plans.Name, plan.Id, read, "plan", plan.Id) : null, ct);
            }
            catch (Exception ex) when (IsConstraintViolation(ex))
            {
                throw new StoreConflictException("id", $"a plan with id '{plan.Id}' already exists");
            }

            await BumpVersionAsync(connection, transaction, ct);
            if (quotaBefore is { } before && before != plan.RequestsPerMonth)
            {
                await RecordPlanQuotaCrossingsAsync(connection, transaction, plan.Id, plan.UpdatedAt, ct);
            }

            return true;
        }, cancellationToken);
}
