using ApiGate.Core.Identity;
using ApiGate.Core.Portal;

namespace ApiGate.Core.Storage;

/// <summary>
/// Portal accounts and their one-time link tokens (SPEC §14). A portal user is an ordinary user: it is created with
/// its account in one transaction, so a failed sign-up leaves neither behind. Account and token writes are not
/// configuration and do not bump the config version (the user row does, as any user write).
/// </summary>
public interface IPortalStore
{
    /// <summary>Inserts the user and its portal account in one transaction; <see cref="StoreConflictException"/> on a duplicate email.</summary>
    Task CreatePortalUserAsync(UserDefinition user, PortalAccount account, CancellationToken cancellationToken);

    Task<PortalAccount?> FindPortalAccountAsync(string userId, CancellationToken cancellationToken);

    /// <summary>Replaces the password hash and ends the account's unused reset tokens. False when the user has no portal account.</summary>
    Task<bool> SetPortalPasswordAsync(string userId, string passwordHash, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the password hash with <paramref name="newHash"/> (the same password in a stronger format, re-hashed at
    /// login) only while the stored hash is still <paramref name="verifiedHash"/>, the one the login checked the password
    /// against: a reset or password change that landed since is kept. Ends no reset link (the password is the same).
    /// False when the hash changed meanwhile or the user has no portal account.
    /// </summary>
    Task<bool> RehashPortalPasswordAsync(string userId, string verifiedHash, string newHash, DateTimeOffset at, CancellationToken cancellationToken);


    /// <summary>
    /// Stores the token, ending the account's earlier unused tokens of the same purpose in the same transaction: only the
    /// newest reset link and the newest confirmation link mailed work. A token of one purpose leaves the other's alone.
    /// </summary>
    Task CreatePortalTokenAsync(PortalToken token, CancellationToken cancellationToken);

    /// <summary>
    /// Uses up the token with this hash and purpose if it is unused and not expired at <paramref name="now"/>, in one
    /// statement (two concurrent uses: one wins); returns it, or null when there is no such usable token.
    /// </summary>
    Task<PortalToken?> ConsumePortalTokenAsync(string hash, PortalTokenPurpose purpose, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Follows a confirmation link in one transaction: uses up the confirmation token with this hash (unused and not
    /// expired at <paramref name="now"/>), records the address as verified (an earlier time is kept) and makes the user
    /// active if it is pending (a suspended or cancelled user is left as it is) — all of it, or none. Returns the token
    /// used, or null when there is no such usable token or the account is gone (nothing is changed then). A made-up or
    /// used-up link costs a read, no write transaction.
    /// </summary>
    Task<PortalToken?> ConfirmPortalAddressAsync(string tokenHash, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Whether a token with this hash and purpose is unused and not expired at <paramref name="now"/>: a read, without
    /// a write, so a made-up link costs no write transaction (and the caller no password hash).
    /// </summary>
    Task<bool> IsPortalTokenUsableAsync(string hash, PortalTokenPurpose purpose, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Follows a reset link in one transaction: uses up the reset token with this hash (unused and not expired at
    /// <paramref name="now"/>), sets the account's password hash, records the address as verified (an earlier time is
    /// kept), ends the account's other unused reset tokens and, with <paramref name="activatePending"/>, makes the user
    /// active if it is pending (a suspended or cancelled user is left as it is) — all of it, or none. Returns the token
    /// used, or null when there is no such usable token (nothing is changed then).
    /// </summary>
    Task<PortalToken?> ResetPortalPasswordAsync(string tokenHash, string passwordHash, DateTimeOffset now, bool activatePending, CancellationToken cancellationToken);
}
