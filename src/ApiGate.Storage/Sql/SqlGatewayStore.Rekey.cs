using System.Data.Common;
using ApiGate.Storage.Secrets;

namespace ApiGate.Storage.Sql;

/// <summary>
/// Rotating <c>APIGATE_SECRET_KEY</c> (<c>apigate store rekey</c>, docs/scaling.md): every stored secret is
/// rewritten with the current key, in one transaction.
/// </summary>
public abstract partial class SqlGatewayStore
{
    /// <summary>Where secrets are stored: what each is called, its table, the column naming the row and the secret's column.</summary>
    private static readonly (string Kind, string Table, string Id, string Column)[] SecretColumns =
    [
        ("upstream credentials", "upstreams", "id", "auth_value"),
        ("webhook signing secrets", "webhook_endpoints", "id", "secret"),
        ("forms key", "web_keys", "slot", "xml"),
    ];

    /// <summary>
    /// Rewrites every stored secret written with <c>APIGATE_SECRET_KEY_PREVIOUS</c> or in plaintext with the current
    /// key, all of it or nothing: a value neither key decrypts aborts the whole rewrite with an
    /// <see cref="InvalidOperationException"/> naming its table and row. Only the stored ciphertext changes: the
    /// secrets themselves do not, so running gateways, which hold them decrypted, have nothing to reload. The config
    /// version, the identity version and the content token stay as they were (the content triggers on <c>upstreams</c>
    /// fire, and the token they drew is put back in the same transaction), as do <c>updated_at</c>, the admin audit log
    /// and the webhook outbox: a rekey is no change an operator made.
    /// </summary>
    /// <param name="dryRun">Only read: every secret is decrypted and encrypted again in memory, so the counts and a value
    /// neither key reads come out as they would, but nothing is written and no row is locked.</param>
    /// <param name="cancellationToken">Cancels the rewrite (rolled back) or the reading.</param>
    /// <returns>Per kind of secret: how many were re-encrypted (from the previous key), encrypted (were plaintext) and already current.</returns>
    public Task<IReadOnlyList<RekeyedSecrets>> RekeySecretsAsync(bool dryRun, CancellationToken cancellationToken)
    {
        if (!_secrets.Encrypts)
        {
            throw new InvalidOperationException("APIGATE_SECRET_KEY is not set: there is no key to encrypt the stored secrets with");
        }

        return dryRun
            ? UseAsync((connection, ct) => RekeyColumnsAsync(connection, null, ct), cancellationToken)
            : WriteTransactionAsync(RekeyColumnsAsync, cancellationToken);
    }

    /// <summary>Every kind of secret in turn; without <paramref name="transaction"/> nothing is written (a dry run).</summary>
    private async Task<IReadOnlyList<RekeyedSecrets>> RekeyColumnsAsync(DbConnection connection, DbTransaction? transaction, CancellationToken ct)
    {
        long? token = null;
        if (transaction is not null)
        {
            // PostgreSQL: the rows first, so a secret another instance rewrites meanwhile waits for this rewrite instead
            // of being overwritten by it; SQLite's write transaction already excludes every other writer. A SELECT, not
            // an UPDATE: a lock fires no trigger.
            if (ExclusiveRowLock.Length > 0)
            {
                foreach (var (_, table, id, _) in SecretColumns)
                {
                    await ScalarAsync(connection, transaction, $"SELECT COUNT(*) FROM (SELECT {id} FROM {table}{ExclusiveRowLock}) locked", ct);
                }
            }

            // Then the content token, held until the commit: a config change committed before this read is in the token
            // put back, and one made meanwhile waits and draws a new one after it (its trigger needs this row). After the
            // upstream rows: a change to an upstream holds its row before its trigger asks for this one.
            token = await ScalarAsync(connection, transaction, "SELECT token FROM config_content WHERE id = 1" + ExclusiveRowLock, ct);
        }

        var counts = new List<RekeyedSecrets>(SecretColumns.Length);
        foreach (var (kind, table, id, column) in SecretColumns)
        {
            counts.Add(await RekeyColumnAsync(connection, transaction, kind, table, id, column, ct));
        }

        if (token is { } unchanged)
        {
            // The rewrite of upstreams.auth_value fired the content triggers, which drew a new token: gateways would take
            // it for a config change and read and compile every route again at the next key or user change, and route
            // lists cached by token would be read again. The decrypted config is the same, so its token is too.
            await ExecuteAsync(connection, transaction, "UPDATE config_content SET token = @Token WHERE id = 1", ct, new { Token = unchanged });
        }

        return counts;
    }

    /// <summary>
    /// What ends a SELECT so the rows it reads are this transaction's to write until it ends (PostgreSQL:
    /// <c>FOR UPDATE</c>); nothing where a write transaction excludes every other writer already (SQLite).
    /// </summary>
    private protected virtual string ExclusiveRowLock => "";

    /// <summary>
    /// How many stored secrets are not written with the current key (in plaintext, with the previous key, or with one
    /// that is not configured): what <see cref="RekeySecretsAsync"/> would rewrite. Zero when no key is set.
    /// </summary>
    public Task<int> CountSecretsNotUnderCurrentKeyAsync(CancellationToken cancellationToken) =>
        !_secrets.Encrypts
            ? Task.FromResult(0)
            : UseAsync(async (connection, ct) =>
            {
                var count = 0;
                foreach (var (_, table, id, column) in SecretColumns)
                {
                    var rows = await QueryAsync<StoredSecretRow>(connection, null, SelectSecrets(table, id, column), null, ct);
                    count += rows.Count(row => !_secrets.IsCurrent(row.Value));
                }

                return count;
            }, cancellationToken);

    /// <summary>The stored secrets of one column (empty values are no secret), in row order.</summary>
    private static string SelectSecrets(string table, string id, string column) =>
        $"SELECT {id} AS Id, {column} AS Value FROM {table} WHERE {column} <> '' ORDER BY {id}";

    private async Task<RekeyedSecrets> RekeyColumnAsync(
        DbConnection connection, DbTransaction? transaction, string kind, string table, string id, string column, CancellationToken ct)
    {
        // The rows are locked already (RekeyColumnsAsync). Empty values (an upstream without a credential) are no
        // secret. A dry run (no transaction) locks and writes nothing.
        var rows = await QueryAsync<StoredSecretRow>(connection, transaction, SelectSecrets(table, id, column), null, ct);
        int reencrypted = 0, encrypted = 0;
        foreach (var row in rows)
        {
            string? rekeyed;
            try
            {
                rekeyed = _secrets.Rekey(row.Value);
            }
            catch (Exception ex) when (ex is InvalidOperationException or FormatException or System.Security.Cryptography.CryptographicException)
            {
                throw new InvalidOperationException($"{table} row {row.Id} ({column}): {ex.Message}; nothing was changed", ex);
            }

            if (rekeyed is null)
            {
                continue;
            }

            if (SecretProtector.IsEncrypted(row.Value))
            {
                reencrypted++;
            }
            else
            {
                encrypted++;
            }

            if (transaction is not null)
            {
                await ExecuteAsync(connection, transaction, $"UPDATE {table} SET {column} = @Value WHERE {id} = @Id", ct, new { row.Id, Value = rekeyed });
            }
        }

        return new RekeyedSecrets(kind, table, reencrypted, encrypted, rows.Count - reencrypted - encrypted);
    }

    /// <summary>One stored secret and the row it belongs to.</summary>
    private sealed class StoredSecretRow
    {
        public string Id { get; init; } = "";

        public string Value { get; init; } = "";
    }
}
