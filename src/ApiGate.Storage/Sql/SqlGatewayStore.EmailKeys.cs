using System.Data.Common;
using System.Text;
using ApiGate.Core.Text;
using Dapper;

namespace ApiGate.Storage.Sql;

/// <summary>
/// The mailbox each user's address names (<c>users.email_key</c>, <see cref="Emails.Key"/>): written with every
/// address (<see cref="Rows.UserRow.From"/>), filled for the users there were by the migration that added it, and at
/// every start for the users written without it since (<see cref="FillMissingEmailKeysAsync"/>).
/// </summary>
public abstract partial class SqlGatewayStore
{
    /// <summary>The migration (the same version on both engines) that adds <c>users.email_key</c>, filled by <see cref="FillEmailKeysAsync"/>.</summary>
    private const int EmailKeyMigration = 26;

    /// <summary>Users keyed per statement batch while the migration fills <c>email_key</c>: bounded memory for any number of users.</summary>
    private const int EmailKeyBatch = 1_000;

    /// <summary>How many mailboxes held by several users the notice names; the rest are counted.</summary>
    private const int SharedMailboxesNamed = 5;

    /// <summary>
    /// What the migrations <c>InitializeAsync</c> applied found that the operator should act on, one line each (empty
    /// when nothing): for the start to log as a warning, not to stop it.
    /// </summary>
    public IReadOnlyList<string> MigrationNotices { get; private set; } = [];

    /// <summary>
    /// Adds <c>users.email_key</c> where it is missing, before the migration's SQL indexes it. Nothing here: PostgreSQL's
    /// migration adds it itself (<c>ADD COLUMN IF NOT EXISTS</c>).
    /// </summary>
    private protected virtual Task AddEmailKeyColumnAsync(DbConnection connection, DbTransaction transaction, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>
    /// The users without a key: written by an older build (one still running during a rolling upgrade) after the migration
    /// filled the keys. An empty address has an empty key, so it is never one to fill (and the fill always ends).
    /// </summary>
    private const string MissingEmailKey = "email_key = '' AND email <> ''";

    /// <summary>
    /// At every start, after the migrations: writes the key of each user stored without one (<see cref="MissingEmailKey"/>),
    /// as the migration does (<see cref="FillEmailKeysAsync"/>), in one transaction <paramref name="beginWrite"/> begins.
    /// Nothing to fill costs one query on the index of <c>email_key</c>, outside any transaction.
    /// </summary>
    private protected async Task FillMissingEmailKeysAsync(
        DbConnection connection, Func<CancellationToken, Task<DbTransaction>> beginWrite, CancellationToken cancellationToken)
    {
        if (!await FirstValueAsync<bool>(connection, null, "SELECT EXISTS (SELECT 1 FROM users WHERE " + MissingEmailKey + ")", null, cancellationToken))
        {
            return;
        }

        await using var transaction = await beginWrite(cancellationToken);
        await FillEmailKeysAsync(connection, transaction, missingOnly: true, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// Writes the key of every user's address, in the migration's transaction, and notes the mailboxes that more than
    /// one user holds (<see cref="MigrationNotices"/>): accounts stored before the spelling rules under two spellings of
    /// one mailbox (<c>bob@bücher.example.</c> and <c>bob@XN--BCHER-KVA.example</c>), which both stay.
    /// </summary>
    /// <param name="missingOnly">Only the users whose key is empty (<see cref="FillMissingEmailKeysAsync"/>), not every user.</param>
    private async Task FillEmailKeysAsync(DbConnection connection, DbTransaction transaction, bool missingOnly, CancellationToken cancellationToken)
    {
        var select = "SELECT id, email FROM users WHERE " + (missingOnly ? MissingEmailKey + " AND " : "") + "id > @After ORDER BY id LIMIT " + EmailKeyBatch;
        var after = "";
        while (true)
        {
            var users = await QueryAsync<(string Id, string Email)>(connection, transaction, select, new { After = after }, cancellationToken);
            if (users.Count == 0)
            {
                break;
            }

            // Only while the address is the one read: one changed meanwhile is not given the key of the address it had.
            await connection.ExecuteAsync(new CommandDefinition("UPDATE users SET email_key = @Key WHERE id = @Id AND email = @Email",
                users.Select(u => new { u.Id, u.Email, Key = Emails.Key(u.Email) }).ToList(), transaction, cancellationToken: cancellationToken));
            after = users[^1].Id;
        }

        var shared = await QueryAsync<(string Key, string Id, string Email)>(connection, transaction,
            "SELECT email_key, id, email FROM users WHERE email_key IN (SELECT email_key FROM users GROUP BY email_key HAVING COUNT(*) > 1) ORDER BY email_key, created_at, id",
            null, cancellationToken);
        if (shared.Count > 0)
        {
            MigrationNotices = [.. MigrationNotices, SharedMailboxesNotice(shared)];
        }
    }

    /// <summary>
    /// One line naming the mailboxes held by more than one user (the first few, each with its users' addresses and ids, oldest first),
    /// what a look-up finds, and what to do about it.
    /// </summary>
    private static string SharedMailboxesNotice(IReadOnlyList<(string Key, string Id, string Email)> shared)
    {
        var mailboxes = shared.GroupBy(u => u.Key, StringComparer.Ordinal).ToList();
        var line = new StringBuilder()
            .Append(mailboxes.Count).Append(mailboxes.Count == 1 ? " mailbox is" : " mailboxes are")
            .Append(" held by more than one user, stored under different spellings before the spelling rules: ");
        line.AppendJoin("; ", mailboxes.Take(SharedMailboxesNamed).Select(m =>
            $"{m.Key} ({string.Join(", ", m.Select(u => $"{u.Email} {u.Id}"))})"));
        if (mailboxes.Count > SharedMailboxesNamed)
        {
            line.Append("; and ").Append(mailboxes.Count - SharedMailboxesNamed).Append(" more");
        }

        return line.Append(". Each user is still found by its address as stored; the spelling kept now finds the oldest. ")
            .Append("Keep one user per mailbox: give the others another address or delete them (docs/portal.md)")
            .ToString();
    }
}
