using System.Collections.Concurrent;
using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Snapshots;

namespace ApiGate.Gateway.Identity;

/// <summary>
/// Turns a presented API key into a key record and its owner without touching the database for a known key: a
/// bounded cache keyed by the key's SHA-256 holds both found and unknown keys. Any config change (revocation, user
/// suspension, plan change, new key) bumps the snapshot version, and the cache empties itself when it sees a new
/// version, so changes apply within one poll interval. Expiry is checked against the clock on every request.
/// </summary>
internal sealed class ApiKeyAuthenticator(IIdentityStore store, GatewayOptions options, TimeProvider timeProvider)
{
    /// <summary>Upper bound on cached keys (found and unknown); past it the cache starts over.</summary>
    public const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<string, CachedKey> _cache = new(StringComparer.Ordinal);
    private long _version = -1;

    /// <summary>Number of database lookups made (cache misses); for tests and metrics.</summary>
    public long Lookups;

    public async ValueTask<(RequestIdentity? Identity, GatewayError? Error)> AuthenticateAsync(
        string presented, CredentialSource source, ConfigSnapshot snapshot, CancellationToken cancellationToken)
    {
        if (!ApiKeys.IsWellFormed(presented, options.AuthKeyPrefix))
        {
            return (null, Errors.Invalid);
        }

        SyncVersion(snapshot.Version);
        var hash = ApiKeys.Hash(presented);
        if (!_cache.TryGetValue(hash, out var cached))
        {
            cached = await LookupAsync(presented, hash, cancellationToken);
            if (_cache.Count >= MaxEntries)
            {
                _cache.Clear();
            }

            _cache[hash] = cached;
        }

        if (cached.Key is not { } key || cached.User is not { } user)
        {
            return (null, Errors.Invalid);
        }

        if (key.RevokedAt is not null)
        {
            return (null, Errors.Revoked);
        }

        if (key.ExpiresAt is { } expires && expires <= timeProvider.GetUtcNow())
        {
            return (null, Errors.Expired);
        }

        if (user.Status != UserStatus.Active)
        {
            return (null, Errors.Suspended);
        }

        if (!snapshot.Plans.TryGetValue(user.PlanId, out var plan))
        {
            return (null, Errors.Suspended with { Detail = "The account's plan no longer exists." });
        }

        return (new RequestIdentity(key, user, plan, source), null);
    }

    private void SyncVersion(long version)
    {
        if (Volatile.Read(ref _version) == version)
        {
            return;
        }

        lock (_cache)
        {
            if (_version != version)
            {
                _cache.Clear();
                Volatile.Write(ref _version, version);
            }
        }
    }

    private async Task<CachedKey> LookupAsync(string presented, string hash, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref Lookups);
        foreach (var (key, user) in await store.FindKeysByPrefixAsync(ApiKeys.PrefixOf(presented), cancellationToken))
        {
            if (ApiKeys.HashesEqual(key.Hash, hash))
            {
                return new CachedKey(key, user);
            }
        }

        return CachedKey.Unknown;
    }

    private sealed record CachedKey(ApiKeyDefinition? Key, UserDefinition? User)
    {
        public static readonly CachedKey Unknown = new(null, null);
    }

    /// <summary>The SPEC §1.2 authentication errors.</summary>
    public static class Errors
    {
        public static readonly GatewayError Missing = new(401, "missing_api_key", "Unauthorized", "An API key is required: send Authorization: Bearer <key> or X-API-Key.");
        public static readonly GatewayError Invalid = new(401, "invalid_api_key", "Unauthorized", "The API key is malformed or unknown.");
        public static readonly GatewayError Expired = new(401, "key_expired", "Unauthorized", "The API key has expired.");
        public static readonly GatewayError Revoked = new(401, "key_revoked", "Unauthorized", "The API key has been revoked.");
        public static readonly GatewayError Suspended = new(403, "user_suspended", "Forbidden", "The account that owns this API key is not active.");
    }
}
