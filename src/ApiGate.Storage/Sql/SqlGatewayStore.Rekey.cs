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
    /// <see cref="InvalidOperationException"/> naming its table and row. The secrets themselves do not change, so
    /// running gateways, which hold them decrypted, have nothing to reload: the config version stays as it is.
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
        var counts = new List<RekeyedSecrets>(SecretColumns.Length);
        foreach (var (kind, table, id, column) in SecretColumns)
        {
            counts.Add(await RekeyColumnAsync(connection, transaction, kind, table, id, column, ct));
        }

        return counts;
    }

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
        // Locks the rows first (PostgreSQL; on SQLite this transaction already excludes every other writer), so a
        // secret another instance rewrites meanwhile waits for this rewrite instead of being overwritten by it. Empty
        // values (an upstream without a credential) are no secret. A dry run (no transaction) locks and writes nothing.
        if (transaction is not null)
        {
            await ExecuteAsync(connection, transaction, $"UPDATE {table} SET {column} = {column}", ct);
        }

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
