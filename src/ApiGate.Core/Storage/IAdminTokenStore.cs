using ApiGate.Core.Identity;

namespace ApiGate.Core.Storage;

/// <summary>
/// Admin tokens (credentials for the admin API). Token writes do not bump the config version: they are not
/// configuration, and the admin API re-checks a token against the store at least once a second.
/// </summary>
public interface IAdminTokenStore
{
    /// <summary>All tokens, revoked ones included, newest first.</summary>
    Task<IReadOnlyList<AdminTokenDefinition>> ListAdminTokensAsync(CancellationToken cancellationToken);

    /// <summary>Finds a token by id or name.</summary>
    Task<AdminTokenDefinition?> FindAdminTokenAsync(string idOrName, CancellationToken cancellationToken);

    /// <summary>The tokens with this lookup prefix (revoked ones included): what verification needs.</summary>
    Task<IReadOnlyList<AdminTokenDefinition>> FindAdminTokensByPrefixAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>How many tokens are not revoked.</summary>
    Task<int> CountActiveAdminTokensAsync(CancellationToken cancellationToken);

    /// <summary>Inserts; throws <see cref="StoreConflictException"/> on a duplicate name.</summary>
    Task CreateAdminTokenAsync(AdminTokenDefinition token, CancellationToken cancellationToken);

    /// <summary>Sets <c>revoked_at</c> (permanent; an earlier revocation time is kept). False when there is no such token.</summary>
    Task<bool> RevokeAdminTokenAsync(string id, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Records when a token was last used.</summary>
    Task TouchAdminTokenAsync(string id, DateTimeOffset at, CancellationToken cancellationToken);
}
