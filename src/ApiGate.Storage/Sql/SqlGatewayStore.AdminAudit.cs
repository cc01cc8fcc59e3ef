using ApiGate.Core.Storage;
using ApiGate.Storage.Rows;

namespace ApiGate.Storage.Sql;

/// <summary>The admin audit trail: admitted changes through the admin API and the console, from every instance.</summary>
public abstract partial class SqlGatewayStore
{
    private static readonly RowTable<AdminAuditRow> AdminAuditTable = new("admin_audit", "id");

    public Task AddAdminAuditAsync(AdminAuditRecord record, CancellationToken cancellationToken) =>
        WriteOneAsync("""
            INSERT INTO admin_audit (at, method, path, status, token_id, token_name, client_ip, note)
            VALUES (@At, @Method, @Path, @Status, @TokenId, @TokenName, @ClientIp, @Note)
            """, cancellationToken, AdminAuditRow.From(record));

    public Task<IReadOnlyList<AdminAuditRecord>> ListAdminAuditAsync(int limit, CancellationToken cancellationToken) =>
        UseAsync<IReadOnlyList<AdminAuditRecord>>(async (connection, ct) =>
            (await QueryAsync<AdminAuditRow>(connection, null, $"SELECT {AdminAuditTable.Columns} FROM admin_audit ORDER BY id DESC LIMIT @Limit", new { Limit = limit }, ct))
                .Select(r => r.ToRecord()).ToList(), cancellationToken);

    public Task<int> DeleteAdminAuditBeforeAsync(DateTimeOffset before, CancellationToken cancellationToken) =>
        WriteOneAsync("DELETE FROM admin_audit WHERE at < @Before", cancellationToken, new { Before = StoredValues.Time(before) });
}
