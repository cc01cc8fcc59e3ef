using System.Collections.Concurrent;
using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Snapshots;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Identity;

/// <summary>
/// Turns a presented API key into a key record and its owner without touching the database for a known key: a
/// bounded cache keyed by the key's SHA-256 holds both found and unknown keys. A change to keys, users or their links
/// (revocation, user suspension, a user's plan, a new key) bumps the store's identity version, and the cache empties
/// itself when a snapshot brings a new one, so such changes apply within one reload; other config changes (routes,
/// upstreams, plans) keep it, and a cached key's plan is looked up again in each newer snapshot. Expiry is checked against the clock on every request. A key not
/// in memory is read once however many requests bring it at once, and a request waits for that read only as long as
/// <see cref="StoreLookupGuard"/> allows. Keys the store does not know are cached apart from the ones it knows, so a flood of
/// made-up keys fills and empties only its own part and never pushes real callers' keys out. With billing on, whether
/// the owner has a paying subscription is read with the key (a subscription's start or end moves the identity version,
/// so the request path never asks the store about it: RequestIdentity.AllowsOverage).
/// </summary>
internal sealed class ApiKeyAuthenticator(
    IIdentityStore store, GatewayOptions options, StoreLookupGuard guard, TimeProvider timeProvider, BillingService? billing = null, int maxEntries = ApiKeyAuthenticator.MaxEntries)
{
    /// <summary>Upper bound on cached keys of each kind (known, unknown); past it that part of the cache starts over.</summary>
    public const int MaxEntries = 100_000;

    private readonly ConfigScopedCache<KeyHash, CachedKey> _cache = new(maxEntries);
    private readonly ConfigScopedCache<KeyHash, CachedKey> _unknown = new(maxEntries);
    private readonly SingleFlight<(KeyHash Hash, long Version), CachedKey> _lookups = new();

    /// <summary>Number of database lookups made (cache misses); for tests and metrics.</summary>
    public long Lookups;

    public ValueTask<(RequestIdentity? Identity, GatewayError? Error)> AuthenticateAsync(string presented, ConfigSnapshot snapshot, CancellationToken cancellationToken) =>
        AuthenticateAsync(presented.AsMemory(), snapshot, cancellationToken);

    /// <summary>The same for a key that is a slice of a header or parameter value; a known key is never copied into a string.</summary>
    public ValueTask<(RequestIdentity? Identity, GatewayError? Error)> AuthenticateAsync(ReadOnlyMemory<char> presented, ConfigSnapshot snapshot, CancellationToken cancellationToken)
    {
        if (!ApiKeys.IsWellFormed(presented.Span, options.AuthKeyPrefix))
        {
            return ValueTask.FromResult<(RequestIdentity?, GatewayError?)>((null, Errors.Invalid));
        }

        var hash = ApiKeys.HashValue(presented.Span);
        return TryGetCached(snapshot.IdentityVersion, hash, out var cached)
            ? ValueTask.FromResult(Decide(cached, snapshot))
            : LookupAndDecideAsync(presented.ToString(), hash, snapshot, cancellationToken);
    }

    private async ValueTask<(RequestIdentity?, GatewayError?)> LookupAndDecideAsync(string presented, KeyHash hash, ConfigSnapshot snapshot, CancellationToken cancellationToken)
    {
        // The database is down or hangs (PostgreSQL, SPEC §12): keys already cached keep working; this one cannot be
        // checked now, and nothing is cached, so it works as soon as the database answers again.
        if (!guard.MayAsk())
        {
            return (null, Errors.StoreUnavailable);
        }

        var lookup = _lookups.Run(
            (hash, snapshot.IdentityVersion), (Self: this, Presented: presented),
            static (key, state) => state.Self.LookupOnceAsync(state.Presented, key.Hash, key.Version));
        return await guard.WaitAsync(lookup, cancellationToken) is { } cached ? Decide(cached, snapshot) : (null, Errors.StoreUnavailable);
    }

    /// <summary>
    /// The one store lookup of a key under one identity version, whichever requests wait for it (a burst of requests with a
    /// key just after a config change emptied the cache reads it once). Not cancelled by any one request; it goes on after
    /// a request stopped waiting and caches what it finds.
    /// </summary>
    private async Task<CachedKey> LookupOnceAsync(string presented, KeyHash hash, long identityVersion)
    {
        // The cache once more: a request that missed it just before another one for the same key finished (cached, then
        // left the table of runs) finds the result here instead of reading the store again.
        if (TryGetCached(identityVersion, hash, out var cached))
        {
            return cached;
        }

        cached = await LookupAsync(presented, hash);
        (ReferenceEquals(cached, CachedKey.Unknown) ? _unknown : _cache).Set(identityVersion, hash, cached);
        return cached;
    }

    private bool TryGetCached(long identityVersion, KeyHash hash, out CachedKey cached) =>
        _cache.TryGet(identityVersion, hash, out cached) || _unknown.TryGet(identityVersion, hash, out cached);

    private (RequestIdentity?, GatewayError?) Decide(CachedKey cached, ConfigSnapshot snapshot)
    {
        if (cached.IdentityIn(snapshot) is not { } identity)
        {
            return (null, cached.Error ?? Errors.PlanGone);
        }

        if (identity.Key.ExpiresAt is { } expires && expires <= timeProvider.GetUtcNow())
        {
            return (null, Errors.Expired);
        }

        return (identity, null);
    }

    /// <summary>Loads the key and its owner and settles everything that only a change to them can alter.</summary>
    private async Task<CachedKey> LookupAsync(string presented, KeyHash hash)
    {
        Interlocked.Increment(ref Lookups);
        var hex = hash.ToHex();
        foreach (var (key, owner) in await store.FindKeysByPrefixAsync(ApiKeys.PrefixOf(presented), CancellationToken.None))
        {
            if (!ApiKeys.HashesEqual(key.Hash, hex))
            {
                continue;
            }

            if (key.RevokedAt is not null)
            {
                return new CachedKey(Errors.Revoked);
            }

            if (owner.User.Status != UserStatus.Active)
            {
                return new CachedKey(Errors.Suspended);
            }

            return new CachedKey(key, owner.User, billing is not null && billing.IsUnsubscribed(owner));
        }

        return CachedKey.Unknown;
    }

    /// <summary>
    /// A lookup's outcome for one identity version: an active key and its owner, or the error every request with this key
    /// gets. The owner's plan comes from the snapshot a request holds: the identity made with the last one asked for is
    /// kept (by its version, so an entry holds no snapshot alive), and a request under another builds it anew.
    /// </summary>
    private sealed class CachedKey
    {
        public static readonly CachedKey Unknown = new(Errors.Invalid);

        private readonly ApiKeyDefinition? _key;
        private readonly UserDefinition? _user;
        private readonly bool _unsubscribed;
        private InSnapshot? _last;

        public CachedKey(GatewayError error) => Error = error;

        public CachedKey(ApiKeyDefinition key, UserDefinition user, bool unsubscribed)
        {
            _key = key;
            _user = user;
            _unsubscribed = unsubscribed;
        }

        /// <summary>Why the key is refused whatever the snapshot; null for an active key.</summary>
        public GatewayError? Error { get; }

        /// <summary>The identity under <paramref name="snapshot"/>; null when refused (<see cref="Error"/>) or the owner's plan is not in it.</summary>
        public RequestIdentity? IdentityIn(ConfigSnapshot snapshot)
        {
            if (_user is not { } user)
            {
                return null;
            }

            var last = Volatile.Read(ref _last);
            if (last is null || last.Version != snapshot.Version)
            {
                last = new InSnapshot(snapshot.Version,
                    snapshot.Plans.TryGetValue(user.PlanId, out var plan) ? new RequestIdentity(_key!, user, plan, _unsubscribed) : null);
                Volatile.Write(ref _last, last);
            }

            return last.Identity;
        }

        private sealed record InSnapshot(long Version, RequestIdentity? Identity);
    }

    /// <summary>The SPEC §1.2 authentication errors.</summary>
    public static class Errors
    {
        public static readonly GatewayError Missing = new(401, "missing_api_key", "Unauthorized", "An API key is required: send it as Authorization: Bearer KEY or in the X-API-Key header.");
        public static readonly GatewayError Invalid = new(401, "invalid_api_key", "Unauthorized", "The API key is malformed or unknown.");
        public static readonly GatewayError Expired = new(401, "key_expired", "Unauthorized", "The API key has expired.");
        public static readonly GatewayError Revoked = new(401, "key_revoked", "Unauthorized", "The API key has been revoked.");
        public static readonly GatewayError Suspended = new(403, "user_suspended", "Forbidden", "The account that owns this API key is not active.");
        public static readonly GatewayError PlanGone = Suspended with { Detail = "The account's plan no longer exists." };
        public static readonly GatewayError StoreUnavailable = new(503, "store_unavailable", "Service Unavailable", "The API key cannot be checked now: the gateway's database does not answer. Retry later.");
    }
}
