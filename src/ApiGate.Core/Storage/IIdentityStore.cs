using ApiGate.Core.Entitlements;
using ApiGate.Core.Identity;
using ApiGate.Core.Quotas;

namespace ApiGate.Core.Storage;

/// <summary>
/// Plans, users, API keys and entitlements. Every write bumps the config version (so gateways drop cached key
/// lookups and rebuild plan data within a poll interval), except <see cref="TouchKeysAsync"/>, which only records use.
/// </summary>
public interface IIdentityStore
{
    Task<IReadOnlyList<PlanDefinition>> ListPlansAsync(CancellationToken cancellationToken);

    Task<PlanDefinition?> FindPlanAsync(string id, CancellationToken cancellationToken);

    /// <summary>
    /// Inserts; a default plan clears the flag on every other plan in the same transaction. A Stripe price another plan
    /// has is a <see cref="StoreConflictException"/> on <c>stripe_price_id</c> (for updates too), checked in the write.
    /// </summary>
    Task CreatePlanAsync(PlanDefinition plan, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the plan, if its stored <c>updated_at</c> is still <paramref name="readAt"/> (else
    /// <see cref="StoreChangedMeanwhileException"/> and nothing is written).
    /// </summary>
    Task UpdatePlanAsync(PlanDefinition plan, DateTimeOffset readAt, CancellationToken cancellationToken);

    /// <summary>Deletes; throws <see cref="StoreConflictException"/> while users are on the plan, <see cref="StoreChangedMeanwhileException"/> when there is no such plan (deleted meanwhile).</summary>
    /// <remarks>With <paramref name="readAt"/>, only while its stored <c>updated_at</c> is still that (else <see cref="StoreChangedMeanwhileException"/> and nothing is deleted).</remarks>
    Task DeletePlanAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken);

    Task<IReadOnlyList<UserDefinition>> ListUsersAsync(CancellationToken cancellationToken);

    /// <summary>
    /// One page of the users, by email: at most <paramref name="count"/> after the first <paramref name="offset"/> — or,
    /// when <paramref name="after"/> is given, right after that cursor — of those whose email contains
    /// <paramref name="emailContains"/> (ignoring the case of ASCII letters, alike on every engine; every user when null), how many those are, and the cursor of the
    /// page that follows. Only the page's rows are read.
    /// </summary>
    Task<StorePage<UserDefinition>> ListUsersPageAsync(string? emailContains, int offset, ListCursor? after, int count, CancellationToken cancellationToken);

    /// <summary>
    /// The users whose stored use in the quota period starting at <paramref name="periodStart"/> has reached
    /// <paramref name="share"/> of their plan's monthly quota (plans without one never), the largest share first, at most
    /// <paramref name="count"/>: what the console's dashboard lists, without reading every user.
    /// </summary>
    Task<IReadOnlyList<QuotaUsage>> ListUsersNearQuotaAsync(DateTimeOffset periodStart, double share, int count, CancellationToken cancellationToken);

    /// <summary>
    /// Finds a user by id or email (ASCII letters in any case): the user whose address is the one given, else the user
    /// whose address is another spelling of the same mailbox (<see cref="Text.Emails.Key"/>; the one created first when,
    /// from before the spelling rules, several are).
    /// </summary>
    Task<UserDefinition?> FindUserAsync(string idOrEmail, CancellationToken cancellationToken);

    Task CreateUserAsync(UserDefinition user, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the user, if its stored <c>updated_at</c> is still <paramref name="readAt"/> (else
    /// <see cref="StoreChangedMeanwhileException"/> and nothing is written).
    /// </summary>
    Task UpdateUserAsync(UserDefinition user, DateTimeOffset readAt, CancellationToken cancellationToken);

    /// <summary>
    /// As <see cref="UpdateUserAsync"/>, for a customer moving themselves to <c>user.PlanId</c> without paying: written
    /// only if that plan is, as the write runs, enabled, visible to customers and free in both prices (monthly and
    /// overage), read in the write's own transaction and held so until it commits; else
    /// <see cref="StoreConflictException"/> (field <c>plan</c>) and nothing is written. An operator's change to the plan
    /// after the caller checked it therefore wins over the customer's change.
    /// </summary>
    Task UpdateUserToFreePlanAsync(UserDefinition user, DateTimeOffset readAt, CancellationToken cancellationToken);

    /// <summary>Deletes the user and their API keys; <see cref="StoreChangedMeanwhileException"/> when there is no such user (deleted meanwhile).</summary>
    /// <remarks>With <paramref name="readAt"/>, only while its stored <c>updated_at</c> is still that (else <see cref="StoreChangedMeanwhileException"/> and nothing is deleted).</remarks>
    Task DeleteUserAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken);

    /// <summary>
    /// The user an identity provider's subject is linked to (<c>user_identities</c>), or null. The issuer matches with or
    /// without a trailing slash (<see cref="UserIdentity.SameIssuer"/>), the exact spelling first.
    /// </summary>
    Task<UserDefinition?> FindUserByIdentityAsync(string issuer, string subject, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="FindUserByIdentityAsync"/> with the user's paying state read in the same query: what a token's
    /// authentication needs on a cache miss.
    /// </summary>
    Task<CredentialOwner?> FindOwnerByIdentityAsync(string issuer, string subject, CancellationToken cancellationToken);

    /// <summary>The identities linked to the user, by issuer and subject.</summary>
    Task<IReadOnlyList<UserIdentity>> ListIdentitiesAsync(string userId, CancellationToken cancellationToken);

    /// <summary>
    /// Links an identity provider's subject to a user; <see cref="StoreConflictException"/> when the subject is already
    /// linked (another instance or request linked it first). <paramref name="configuration"/>: a configuration change
    /// (the config version moves, so every instance forgets what it remembered about the subject), as when an operator
    /// links it; not for a link made together with a user just created for the subject.
    /// </summary>
    Task LinkIdentityAsync(UserIdentity identity, bool configuration, CancellationToken cancellationToken);

    /// <summary>Removes the link of the subject to that user (a configuration change); false when there was none.</summary>
    Task<bool> UnlinkIdentityAsync(string issuer, string subject, string userId, CancellationToken cancellationToken);

    /// <summary>Keys, newest first; all users' when <paramref name="userId"/> is null.</summary>
    Task<IReadOnlyList<ApiKeyDefinition>> ListKeysAsync(string? userId, CancellationToken cancellationToken);

    /// <summary>
    /// One page of <see cref="ListKeysAsync"/>: at most <paramref name="count"/> keys after the first <paramref name="offset"/>
    /// (or right after the cursor <paramref name="after"/>), newest first, how many there are, and the cursor of the page
    /// that follows. Only the page's rows are read.
    /// </summary>
    Task<StorePage<ApiKeyDefinition>> ListKeysPageAsync(string? userId, int offset, ListCursor? after, int count, CancellationToken cancellationToken);

    Task<ApiKeyDefinition?> FindKeyAsync(string id, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a new key. With <paramref name="maxActiveForUser"/>, the user's unrevoked keys are counted in the same
    /// transaction, the user's row locked first, and a <see cref="StoreConflictException"/> on field <c>keys</c> is thrown
    /// when there are that many already — so concurrent creations cannot pass the limit together.
    /// </summary>
    Task CreateKeyAsync(ApiKeyDefinition key, CancellationToken cancellationToken, int? maxActiveForUser = null);

    /// <summary>Sets <c>revoked_at</c> (permanent). False when there is no such key.</summary>
    Task<bool> RevokeKeyAsync(string id, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>The keys with this lookup prefix and their owners (with their paying state): what authentication needs on a cache miss, in one query.</summary>
    Task<IReadOnlyList<(ApiKeyDefinition Key, CredentialOwner Owner)>> FindKeysByPrefixAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>Records <c>last_used_at</c> for many keys at once (batched, lazily); does not bump the config version.</summary>
    Task TouchKeysAsync(IReadOnlyDictionary<string, DateTimeOffset> lastUsed, CancellationToken cancellationToken);

    Task<IReadOnlyList<EntitlementDefinition>> ListEntitlementsAsync(CancellationToken cancellationToken);

    /// <summary>Finds an entitlement by id or name.</summary>
    Task<EntitlementDefinition?> FindEntitlementAsync(string idOrName, CancellationToken cancellationToken);

    /// <summary>
    /// Stores a new entitlement; a <see cref="StoreConflictException"/> naming <paramref name="headerField"/> when another
    /// one is sent as the same header (the caller knows which field of its input made the header).
    /// </summary>
    Task CreateEntitlementAsync(EntitlementDefinition entitlement, string headerField, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the entitlement, if its stored <c>updated_at</c> is still <paramref name="readAt"/> (else
    /// <see cref="StoreChangedMeanwhileException"/> and nothing is written); a header another one is sent as is refused
    /// as on create, naming <paramref name="headerField"/>.
    /// </summary>
    Task UpdateEntitlementAsync(EntitlementDefinition entitlement, DateTimeOffset readAt, string headerField, CancellationToken cancellationToken);

    /// <summary>Deletes the entitlement and its plan assignments; <see cref="StoreChangedMeanwhileException"/> when there is no such entitlement (deleted meanwhile).</summary>
    /// <remarks>With <paramref name="readAt"/>, only while its stored <c>updated_at</c> is still that (else <see cref="StoreChangedMeanwhileException"/> and nothing is deleted).</remarks>
    Task DeleteEntitlementAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken);

    /// <summary>Assignments; all plans' when <paramref name="planId"/> is null.</summary>
    Task<IReadOnlyList<PlanEntitlement>> ListPlanEntitlementsAsync(string? planId, CancellationToken cancellationToken);

    Task<PlanEntitlement?> FindPlanEntitlementAsync(string id, CancellationToken cancellationToken);

    /// <summary>Inserts; one assignment per plan and entitlement (<see cref="StoreConflictException"/> otherwise).</summary>
    Task CreatePlanEntitlementAsync(PlanEntitlement assignment, CancellationToken cancellationToken);

    /// <summary>
    /// Sets an assignment's value and/or enabled flag (null: left as stored) in one write, so requests never see the
    /// entitlement's default in between; returns the assignment as stored, or null when there is none with that id.
    /// A value that does not fit the entitlement's type as it is at the commit is a <see cref="StoreConflictException"/>.
    /// </summary>
    Task<PlanEntitlement?> UpdatePlanEntitlementAsync(string id, string? value, bool? enabled, CancellationToken cancellationToken);

    /// <summary>Deletes by id; <see cref="StoreChangedMeanwhileException"/> when there is no such assignment (deleted meanwhile).</summary>
    Task DeletePlanEntitlementAsync(string id, CancellationToken cancellationToken);
}

/// <summary>Persisted quota counters (SPEC §4.2): kept in memory by the gateway and added here in batches.</summary>
public interface IQuotaStore
{
    /// <summary>Every user's usage in the period starting at <paramref name="periodStart"/>.</summary>
    Task<IReadOnlyList<QuotaUsage>> LoadQuotaUsageAsync(DateTimeOffset periodStart, CancellationToken cancellationToken);

    /// <summary>
    /// One user's usage in the period starting at <paramref name="periodStart"/> (zeros when none is stored): what a
    /// usage summary shows, one row read whatever the number of users.
    /// </summary>
    Task<QuotaUsage> FindQuotaUsageAsync(string userId, DateTimeOffset periodStart, CancellationToken cancellationToken);

    /// <summary>Adds the deltas (Used and Overage are increments) in one transaction.</summary>
    Task AddQuotaUsageAsync(IReadOnlyList<QuotaUsage> deltas, CancellationToken cancellationToken);
}
