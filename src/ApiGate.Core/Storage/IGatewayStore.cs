using ApiGate.Core.Entitlements;
using ApiGate.Core.Identity;
using ApiGate.Core.Routing;
using ApiGate.Core.Upstreams;

namespace ApiGate.Core.Storage;

/// <summary>
/// The narrow persistence contract the gateway and the management commands rely on. Implementations (SQLite now,
/// PostgreSQL later) bump the config version in the same transaction as every config write, which is how running
/// gateways notice changes made by other processes.
/// </summary>
public interface IGatewayStore :
    IIdentityStore,
    IQuotaStore,
    IUsageStore,
    IAdminTokenStore,
    ITargetHealthStore,
    IPortalStore,
    IWebhookStore,
    IBillingStore,
    IWebSessionStore,
    IAttemptCountStore,
    IAdminAuditStore,
    IStoredSettingStore,
    IRedisHandoverStore,
    IAsyncDisposable
{
    /// <summary>Creates or migrates the schema to the current version.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    /// <summary>Where the store lives, for messages: the database file's full path.</summary>
    string Location { get; }

    /// <summary>True when <see cref="InitializeAsync"/> created a new, empty store because none existed at <see cref="Location"/>.</summary>
    bool Created { get; }

    /// <summary>
    /// Readiness: the store answers a trivial query, and the store being served is still the one at
    /// <see cref="Location"/> (not deleted, moved or replaced since <see cref="InitializeAsync"/>).
    /// </summary>
    Task<StoreCheck> CheckAsync(CancellationToken cancellationToken);

    /// <summary>A number that changes whenever routes or upstreams change.</summary>
    Task<long> GetConfigVersionAsync(CancellationToken cancellationToken);

    /// <summary>The config version with the identity version and the content token (<see cref="ConfigData"/>), read at once.</summary>
    Task<StoreVersions> GetVersionsAsync(CancellationToken cancellationToken);

    /// <summary>Everything a config snapshot is built from, read consistently.</summary>
    Task<ConfigData> LoadConfigAsync(CancellationToken cancellationToken);

    Task<IReadOnlyList<UpstreamDefinition>> ListUpstreamsAsync(CancellationToken cancellationToken);

    /// <summary>Finds an upstream by id or slug.</summary>
    Task<UpstreamDefinition?> FindUpstreamAsync(string idOrSlug, CancellationToken cancellationToken);

    /// <summary>Inserts; throws <see cref="StoreConflictException"/> on a duplicate name.</summary>
    Task CreateUpstreamAsync(UpstreamDefinition upstream, CancellationToken cancellationToken);

    /// <summary>Replaces by id; throws <see cref="StoreConflictException"/> on a duplicate name.</summary>
    /// <summary>
    /// Replaces the upstream, if its stored <c>updated_at</c> is still <paramref name="readAt"/> (else
    /// <see cref="StoreChangedMeanwhileException"/> and nothing is written).
    /// </summary>
    Task UpdateUpstreamAsync(UpstreamDefinition upstream, DateTimeOffset readAt, CancellationToken cancellationToken);

    /// <summary>Deletes by id; throws <see cref="StoreConflictException"/> while routes still use it, <see cref="StoreChangedMeanwhileException"/> when there is no such row (deleted meanwhile).</summary>
    /// <remarks>With <paramref name="readAt"/>, only while its stored <c>updated_at</c> is still that (else <see cref="StoreChangedMeanwhileException"/> and nothing is deleted).</remarks>
    Task DeleteUpstreamAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken);

    Task<IReadOnlyList<RouteDefinition>> ListRoutesAsync(CancellationToken cancellationToken);

    /// <summary>Finds a route by id or slug.</summary>
    Task<RouteDefinition?> FindRouteAsync(string idOrSlug, CancellationToken cancellationToken);

    Task CreateRouteAsync(RouteDefinition route, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the route, if its stored <c>updated_at</c> is still <paramref name="readAt"/> (else
    /// <see cref="StoreChangedMeanwhileException"/> and nothing is written).
    /// </summary>
    Task UpdateRouteAsync(RouteDefinition route, DateTimeOffset readAt, CancellationToken cancellationToken);

    /// <summary>Deletes by id; <see cref="StoreChangedMeanwhileException"/> when there is no such row (deleted meanwhile).</summary>
    /// <remarks>With <paramref name="readAt"/>, only while its stored <c>updated_at</c> is still that (else <see cref="StoreChangedMeanwhileException"/> and nothing is deleted).</remarks>
    Task DeleteRouteAsync(string id, DateTimeOffset? readAt, CancellationToken cancellationToken);
}

/// <summary>The store's versions (<see cref="ConfigData"/>).</summary>
public readonly record struct StoreVersions(long Config, long Identity, long ContentToken);

/// <summary>The configuration a snapshot is compiled from.</summary>
/// <param name="Version">Moved by every config change.</param>
/// <param name="IdentityVersion">Moved by every change to keys, users, users' identity links and billing customers' subscriptions (by the database itself, whatever wrote them).</param>
public sealed record ConfigData(
    long Version,
    long IdentityVersion,
    IReadOnlyList<UpstreamDefinition> Upstreams,
    IReadOnlyList<RouteDefinition> Routes,
    IReadOnlyList<PlanDefinition> Plans,
    IReadOnlyList<EntitlementDefinition> Entitlements,
    IReadOnlyList<PlanEntitlement> PlanEntitlements)
{
    /// <summary>
    /// A random number the database draws anew on every change to the tables read here (upstreams, routes with their
    /// CORS and credential settings, plans, entitlements and their values), whatever writes them. The config version
    /// also moves for changes to keys and users; while this token is the one a snapshot was built from, such a change
    /// needs no rebuild. Random rather than counted, so a store put back to an older state (a backup restored in place)
    /// cannot meet a snapshot's token again with other contents.
    /// </summary>
    public long ContentToken { get; init; }
}

/// <summary>The outcome of <see cref="IGatewayStore.CheckAsync"/>.</summary>
/// <param name="State">
/// <c>ok</c>, <c>unreachable</c> (no file at the path, or it cannot be opened), <c>replaced</c> (another file is at the
/// path), <see cref="Down"/> (a database server does not answer: the gateway keeps serving from its snapshot),
/// <see cref="ReadOnly"/>, <see cref="Full"/> or <see cref="Locked"/>.
/// </param>
/// <param name="Reason">Why it is not ok, naming the path; empty when ok.</param>
public sealed record StoreCheck(string State, string Reason)
{
    public static readonly StoreCheck Ok = new("ok", "");

    /// <summary>The state of a database server that does not answer for now (PostgreSQL): degraded, not failed.</summary>
    public const string Down = "down";

    /// <summary>
    /// A store the gateway can read but not write (SQLite file, its -wal/-shm or directory read-only for its user):
    /// degraded, not failed — it serves from what it reads, but changes and usage cannot be stored.
    /// </summary>
    public const string ReadOnly = "read_only";

    /// <summary>
    /// A store whose disk is full (SQLite: its last usage write failed with SQLITE_FULL): degraded, not failed — it
    /// serves on and holds usage in memory until a write goes through again.
    /// </summary>
    public const string Full = "full";

    /// <summary>
    /// A store whose write lock another connection or process holds (SQLite: a CLI command, a backup, a tool with a
    /// transaction left open): degraded, not failed — reads and traffic go on, while changes wait for the lock and are
    /// refused after the busy timeout, and usage is held in memory until the lock is released.
    /// </summary>
    public const string Locked = "locked";

    public bool IsOk => State == "ok";
}

/// <summary>A write refused by a uniqueness or reference rule; <see cref="Field"/> names the offending field.</summary>
public sealed class StoreConflictException(string field, string message) : Exception(message)
{
    public string Field { get; } = field;

    /// <summary>
    /// A row the write refers to was deleted meanwhile: the <paramref name="reference"/> (<c>upstream</c>, <c>plan</c>,
    /// <c>user</c>, <c>entitlement</c>), which is also the field; empty when it is not known which of several it was.
    /// </summary>
    public static StoreConflictException ReferenceDeleted(string reference, string field) =>
        new(field, reference.Length > 0
            ? $"the {reference} this change refers to was deleted at the same time; check it exists and try again"
            : "something this change refers to (a plan, user, upstream or entitlement) was deleted at the same time; check it exists and try again");
}

/// <summary>
/// An update of a row that another request changed (or deleted) after it was read, or a delete of a row another
/// request deleted: nothing was written. The caller reads the row again and applies its change to what is there now.
/// </summary>
public sealed class StoreChangedMeanwhileException(string message) : Exception(message);
