using System.Data.Common;
using ApiGate.Core.Identity;
using ApiGate.Core.Portal;
using ApiGate.Core.Storage;
using ApiGate.Core.Webhooks;
using ApiGate.Storage.Rows;

namespace ApiGate.Storage.Sql;

/// <summary>Portal accounts (password hashes, verification) and one-time link tokens (hashes only).</summary>
public abstract partial class SqlGatewayStore
{
    private static readonly RowTable<PortalAccountRow> PortalAccounts = new("portal_accounts", "user_id");

    private static readonly RowTable<PortalTokenRow> PortalTokens = new("portal_tokens", "created_at, id");

    public Task CreatePortalUserAsync(UserDefinition user, PortalAccount account, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            try
            {
                await ExecuteAsync(connection, transaction, Users.Insert, ct, UserRow.From(user));
                await ExecuteAsync(connection, transaction, PortalAccounts.Insert, ct, PortalAccountRow.From(account with { UserId = user.Id }));
            }
            catch (Exception ex) when (IsConstraintViolation(ex))
            {
                throw ConflictOf(ex, Duplicate("email", $"a user with email '{user.Email}' already exists"), "plan");
            }

            await BumpVersionAsync(connection, transaction, ct);
            // A user signing up is a user created like any other: the event commits with the user, or neither does.
            await AppendWebhookEventAsync(connection, transaction, WebhookPayloads.UserCreated(user), null, ct);
            return true;
        }, cancellationToken);

    public Task<PortalAccount?> FindPortalAccountAsync(string userId, CancellationToken cancellationToken) =>
        FindAsync(PortalAccounts, r => r.ToDefinition(), "WHERE user_id = @Ref", userId, cancellationToken);

    public Task<bool> SetPortalPasswordAsync(string userId, string passwordHash, DateTimeOffset at, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            if (await ExecuteAsync(connection, transaction, "UPDATE portal_accounts SET password_hash = @Hash, updated_at = @At WHERE user_id = @UserId", ct,
                    new { UserId = userId, Hash = passwordHash, At = StoredValues.Time(at) }) == 0)
            {
                return false;
            }

            await EndResetTokensAsync(connection, transaction, userId, at, ct);
            return true;
        }, cancellationToken);

    /// <summary>
    /// Ends every reset link still out for the account, inside the transaction that sets a new password: one that
    /// leaked earlier must not take the account over after its owner has reset or changed the password, and never is
    /// there a new password with the old links still working.
    /// </summary>
    private Task<int> EndResetTokensAsync(DbConnection connection, DbTransaction transaction, string userId, DateTimeOffset at,
        CancellationToken cancellationToken) =>
        EndTokensAsync(connection, transaction, userId, PortalTokenPurpose.Reset, at, cancellationToken);

    /// <summary>Marks used every link of this purpose still out for the account.</summary>
    private Task<int> EndTokensAsync(DbConnection connection, DbTransaction transaction, string userId, PortalTokenPurpose purpose, DateTimeOffset at,
        CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction, "UPDATE portal_tokens SET used_at = @At WHERE user_id = @UserId AND purpose = @Purpose AND used_at IS NULL", cancellationToken,
            new { UserId = userId, Purpose = StoredValues.Enum(purpose), At = StoredValues.Time(at) });

    public async Task<bool> RehashPortalPasswordAsync(string userId, string verifiedHash, string newHash, DateTimeOffset at, CancellationToken cancellationToken) =>
        // Compare-and-set in one statement: a new password written between the login's read and this write is kept.
        await WriteOneAsync("UPDATE portal_accounts SET password_hash = @New, updated_at = @At WHERE user_id = @UserId AND password_hash = @Verified",
            cancellationToken, new { UserId = userId, Verified = verifiedHash, New = newHash, At = StoredValues.Time(at) }) > 0;

    public Task CreatePortalTokenAsync(PortalToken token, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            // Only the newest link of each purpose mailed works (a reset link, a confirmation link): the earlier unused
            // ones end with the new one's insert, or neither happens. The user's row is locked first (PostgreSQL), so
            // that of two requests at once the later one ends the link the earlier one issued instead of both staying usable.
            await LockUserAsync(connection, transaction, token.UserId, ct);
            await EndTokensAsync(connection, transaction, token.UserId, token.Purpose, token.CreatedAt, ct);
            try
            {
                await ExecuteAsync(connection, transaction, PortalTokens.Insert, ct, PortalTokenRow.From(token));
            }
            catch (Exception ex) when (IsConstraintViolation(ex))
            {
                throw ConflictOf(ex, Duplicate("token", "token collision; create it again"));
            }

            return true;
        }, cancellationToken);

    public Task<bool> IsPortalTokenUsableAsync(string hash, PortalTokenPurpose purpose, DateTimeOffset now, CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) => await ScalarAsync(connection, null,
            "SELECT COUNT(*) FROM portal_tokens WHERE hash = @Hash AND purpose = @Purpose AND used_at IS NULL AND expires_at > @Now", ct,
            new { Hash = hash, Purpose = StoredValues.Enum(purpose), Now = StoredValues.Time(now) }) > 0, cancellationToken);

    public Task<PortalToken?> ResetPortalPasswordAsync(string tokenHash, string passwordHash, DateTimeOffset now, bool activatePending,
        CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            // The link is taken and the password set in one transaction: a failure between them rolls both back (the
            // link still works, the old password still holds), and of two posts of one link only the one whose UPDATE
            // matched the unused row sets a password.
            if (await TakeTokenAsync(connection, transaction, tokenHash, PortalTokenPurpose.Reset, now, ct) is not { } used)
            {
                return null;
            }

            // Setting a password through a link mailed to the address also proves the address.
            if (await ExecuteAsync(connection, transaction,
                    "UPDATE portal_accounts SET password_hash = @Hash, email_verified_at = COALESCE(email_verified_at, @At), updated_at = @At WHERE user_id = @UserId", ct,
                    new { used.UserId, Hash = passwordHash, At = StoredValues.Time(now) }) == 0)
            {
                return null; // the account is gone (its tokens go with it; this one was read before the delete committed)
            }

            await EndResetTokensAsync(connection, transaction, used.UserId, now, ct);
            if (activatePending)
            {
                // In this transaction too: a failure after the password was set must not leave a pending user with it.
                await ActivateIfPendingAsync(connection, transaction, used.UserId, now, ct);
            }

            return used;
        }, cancellationToken);

    public async Task<PortalToken?> ConfirmPortalAddressAsync(string tokenHash, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // A read first, as for any link: a made-up or used-up one costs no write transaction.
        if (!await IsPortalTokenUsableAsync(tokenHash, PortalTokenPurpose.Verify, now, cancellationToken))
        {
            return null;
        }

        // The link is taken, the address marked confirmed and a pending user made active in one transaction: a failure
        // after the link was used must not leave it used with the address unconfirmed or the user pending.
        return await WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            if (await TakeTokenAsync(connection, transaction, tokenHash, PortalTokenPurpose.Verify, now, ct) is not { } used)
            {
                return null;
            }

            if (await ExecuteAsync(connection, transaction,
                    "UPDATE portal_accounts SET email_verified_at = COALESCE(email_verified_at, @At), updated_at = @At WHERE user_id = @UserId", ct,
                    new { used.UserId, At = StoredValues.Time(now) }) == 0)
            {
                return null; // the account is gone (its tokens go with it; this one was read before the delete committed)
            }

            await ActivateIfPendingAsync(connection, transaction, used.UserId, now, ct);
            return used;
        }, cancellationToken);
    }

    /// <summary>
    /// Makes the user active if (and only while) it is pending, inside the caller's transaction: the row is locked
    /// (PostgreSQL) before it is read, and the UPDATE requires it still pending, so a suspension or cancellation the
    /// operator made is never overwritten. A user write like any other: a new <c>updated_at</c>, and the config version
    /// bumped (key checks read the user's status from the configuration).
    /// </summary>
    private async Task ActivateIfPendingAsync(DbConnection connection, DbTransaction transaction, string userId, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        await LockUserAsync(connection, transaction, userId, cancellationToken);
        var pending = StoredValues.Enum(UserStatus.Pending);
        if (await QueryAsync<(string Status, string UpdatedAt)>(connection, transaction, "SELECT status, updated_at FROM users WHERE id = @Id",
                new { Id = userId }, cancellationToken) is not [var (status, updatedAt)] || status != pending)
        {
            return;
        }

        if (await ExecuteAsync(connection, transaction, "UPDATE users SET status = @Active, updated_at = @At WHERE id = @Id AND status = @Pending", cancellationToken,
                new
                {
                    Id = userId,
                    Active = StoredValues.Enum(UserStatus.Active),
                    Pending = pending,
                    At = StoredValues.Time(RowVersion.ChangedAt(now, StoredValues.Time(updatedAt))),
                }) > 0)
        {
            await BumpVersionAsync(connection, transaction, cancellationToken);
        }
    }

    public async Task<PortalToken?> ConsumePortalTokenAsync(string hash, PortalTokenPurpose purpose, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // A read first: a made-up or used-up link (anyone can post one in a loop) costs a read, which runs beside the
        // usage writer, and no write transaction, which would queue behind it on SQLite.
        if (!await IsPortalTokenUsableAsync(hash, purpose, now, cancellationToken))
        {
            return null;
        }

        return await WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            return await TakeTokenAsync(connection, transaction, hash, purpose, now, ct);
        }, cancellationToken);
    }

    /// <summary>
    /// Uses up the token with this hash and purpose when it is unused and not expired at <paramref name="now"/>, and
    /// returns it; null otherwise. One statement: of two concurrent uses, only the one whose UPDATE matched the unused
    /// row gets it back.
    /// </summary>
    private async Task<PortalToken?> TakeTokenAsync(DbConnection connection, DbTransaction transaction, string hash, PortalTokenPurpose purpose,
        DateTimeOffset now, CancellationToken cancellationToken)
    {
        var rows = await QueryAsync<PortalTokenRow>(connection, transaction,
            $"UPDATE portal_tokens SET used_at = @Now WHERE hash = @Hash AND purpose = @Purpose AND used_at IS NULL AND expires_at > @Now RETURNING {PortalTokens.Columns}",
            new { Hash = hash, Purpose = StoredValues.Enum(purpose), Now = StoredValues.Time(now) }, cancellationToken);
        return rows.Count > 0 ? rows[0].ToDefinition() : null;
    }
}
