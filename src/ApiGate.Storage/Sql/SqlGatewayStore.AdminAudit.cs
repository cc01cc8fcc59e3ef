using System.Globalization;
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

    public Task<StorePage<AdminAuditRecord>> ListAdminAuditPageAsync(int limit, int offset, ListCursor? after, int count, CancellationToken cancellationToken) =>
        WindowPageAsync(AdminAuditTable.Columns, AdminAuditTable.Name, "", "id DESC", new { }, AdminAuditKeyset, (AdminAuditRow r) => r.ToRecord(),
            limit, offset, after, count, cancellationToken);

    /// <summary>The audit trail continues after a cursor by id, newest first (the sort value is the id too).</summary>
    private static readonly Keyset<AdminAuditRow> AdminAuditKeyset = new("id < @AfterId",
        static r => new(r.Id.ToString(CultureInfo.InvariantCulture), r.Id.ToString(CultureInfo.InvariantCulture)));

    public Task<int> DeleteAdminAuditBeforeAsync(DateTimeOffset before, CancellationToken cancellationToken) =>
        WriteOneAsync("DELETE FROM admin_audit WHERE at < @Before", cancellationToken, new { Before = StoredValues.Time(before) });
}
