using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using ApiGate.Storage.Rows;

namespace ApiGate.Storage.Sql;

/// <summary>Admin tokens: hashed credentials for the admin API.</summary>
public abstract partial class SqlGatewayStore
{
    private static readonly RowTable<AdminTokenRow> AdminTokenTable = new("admin_tokens", "created_at DESC, id");

    public Task<IReadOnlyList<AdminTokenDefinition>> ListAdminTokensAsync(CancellationToken cancellationToken) =>
        ListAsync(AdminTokenTable, r => r.ToDefinition(), "", null, cancellationToken);

    public Task<AdminTokenDefinition?> FindAdminTokenAsync(string idOrName, CancellationToken cancellationToken) =>
        FindByIdOrNameAsync(AdminTokenTable, r => r.ToDefinition(), "WHERE lower(name) = lower(@Ref)", idOrName, cancellationToken);

    public Task<IReadOnlyList<AdminTokenDefinition>> FindAdminTokensByPrefixAsync(string prefix, CancellationToken cancellationToken) =>
        ListAsync(AdminTokenTable, r => r.ToDefinition(), "WHERE prefix = @Ref", new { Ref = prefix }, cancellationToken);

    public Task<int> CountActiveAdminTokensAsync(CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) => (int)await ScalarAsync(connection, null, "SELECT COUNT(*) FROM admin_tokens WHERE revoked_at IS NULL", ct), cancellationToken);

    public Task CreateAdminTokenAsync(AdminTokenDefinition token, CancellationToken cancellationToken) =>
        WriteAsync(AdminTokenTable.Insert, AdminTokenRow.From(token), Duplicate("name", $"an admin token named '{token.Name}' already exists"),
            cancellationToken, configuration: false);

    public async Task<bool> RevokeAdminTokenAsync(string id, DateTimeOffset at, CancellationToken cancellationToken) =>
        await WriteOneAsync("UPDATE admin_tokens SET revoked_at = COALESCE(revoked_at, @At) WHERE id = @Id", cancellationToken,
            new { Id = id, At = StoredValues.Time(at) }) > 0;

    public Task TouchAdminTokenAsync(string id, DateTimeOffset at, CancellationToken cancellationToken) =>
        WriteOneAsync("UPDATE admin_tokens SET last_used_at = @At WHERE id = @Id", cancellationToken, new { Id = id, At = StoredValues.Time(at) });
}
