using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using ApiGate.Storage.Rows;

namespace ApiGate.Storage.Sql;

/// <summary>Console and portal sessions (cookie hashes only) and the one key that protects their forms.</summary>
public abstract partial class SqlGatewayStore
{
    private static readonly RowTable<WebSessionRow> WebSessions = new("web_sessions", "id");

    /// <summary>The one row of <c>web_keys</c>: the gateway keeps exactly one forms key.</summary>
    private const string WebKeySlot = "forms";

    public Task CreateWebSessionAsync(WebSession session, int keepPerSubject, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            var row = WebSessionRow.From(session);
            try
            {
                await ExecuteAsync(connection, transaction, WebSessions.Insert, ct, row);
            }
            catch (Exception ex) when (IsConstraintViolation(ex))
            {
                throw Duplicate("session", "session id collision; sign in again");
            }

            await ExecuteAsync(connection, transaction, """
                DELETE FROM web_sessions WHERE kind = @Kind AND subject_id = @SubjectId AND id NOT IN (
                    SELECT id FROM web_sessions WHERE kind = @Kind AND subject_id = @SubjectId ORDER BY last_seen_at DESC, id LIMIT @Keep)
                """, ct, new { row.Kind, row.SubjectId, Keep = keepPerSubject });
            return true;
        }, cancellationToken);

    public Task<WebSession?> FindWebSessionAsync(string id, CancellationToken cancellationToken) =>
        FindAsync(WebSessions, r => r.ToDefinition(), "WHERE id = @Ref", id, cancellationToken);

    public Task TouchWebSessionAsync(string id, DateTimeOffset at, CancellationToken cancellationToken) =>
        WriteOneAsync("UPDATE web_sessions SET last_seen_at = @At WHERE id = @Id AND last_seen_at < @At", cancellationToken,
            new { Id = id, At = StoredValues.Time(at) });

    public Task DeleteWebSessionAsync(string id, CancellationToken cancellationToken) =>
        WriteOneAsync("DELETE FROM web_sessions WHERE id = @Id", cancellationToken, new { Id = id });

    public Task<int> DeleteWebSessionsIdleSinceAsync(WebSessionKind kind, DateTimeOffset before, CancellationToken cancellationToken) =>
        WriteOneAsync("DELETE FROM web_sessions WHERE kind = @Kind AND last_seen_at < @Before", cancellationToken,
            new { Kind = StoredValues.Enum(kind), Before = StoredValues.Time(before) });

    public Task<int> CountWebSessionsAsync(WebSessionKind kind, DateTimeOffset since, CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) => (int)await ScalarAsync(connection, null,
            "SELECT COUNT(*) FROM web_sessions WHERE kind = @Kind AND last_seen_at >= @Since", ct,
            new { Kind = StoredValues.Enum(kind), Since = StoredValues.Time(since) }), cancellationToken);

    public Task<string?> GetWebKeyAsync(CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) =>
        {
            var rows = await QueryAsync<string>(connection, null, "SELECT xml FROM web_keys WHERE slot = @Slot", new { Slot = WebKeySlot }, ct);
            return rows.Count > 0 ? _secrets.Unprotect(rows[0]) : null;
        }, cancellationToken);

    public Task AddWebKeyAsync(string xml, DateTimeOffset at, CancellationToken cancellationToken) =>
        WriteOneAsync("INSERT INTO web_keys (slot, xml, created_at) VALUES (@Slot, @Xml, @At) ON CONFLICT (slot) DO NOTHING", cancellationToken,
            new { Slot = WebKeySlot, Xml = _secrets.Protect(xml), At = StoredValues.Time(at) });
}
