using ApiGate.Core.Identity;
using ApiGate.Core.Storage;

namespace ApiGate.Storage.Sqlite;

/// <summary>Admin tokens: hashed credentials for the admin API.</summary>
public sealed partial class SqliteGatewayStore
{
    private static readonly SqliteTable<AdminTokenDefinition> AdminTokenTable = new(
        "admin_tokens", "id, name, prefix, hash, created_at, last_used_at, revoked_at", "created_at DESC, id",
        (p, v) =>
        {
            p.AddWithValue("$id", v.Id);
            p.AddWithValue("$name", v.Name);
            p.AddWithValue("$prefix", v.Prefix);
            p.AddWithValue("$hash", v.Hash);
            p.AddWithValue("$created_at", Timestamp(v.CreatedAt));
            p.AddWithValue("$last_used_at", TimestampOrNull(v.LastUsedAt));
            p.AddWithValue("$revoked_at", TimestampOrNull(v.RevokedAt));
        },
        r => new AdminTokenDefinition
        {
            Id = r.GetString(0),
            Name = r.GetString(1),
            Prefix = r.GetString(2),
            Hash = r.GetString(3),
            CreatedAt = Time(r.GetString(4)),
            LastUsedAt = TimeOrNull(r, 5),
            RevokedAt = TimeOrNull(r, 6),
        });

    public Task<IReadOnlyList<AdminTokenDefinition>> ListAdminTokensAsync(CancellationToken cancellationToken) =>
        ListAsync(AdminTokenTable, "", cancellationToken);

    public Task<AdminTokenDefinition?> FindAdminTokenAsync(string idOrName, CancellationToken cancellationToken) =>
        FindAsync(AdminTokenTable, "WHERE id = $ref OR name = $ref COLLATE NOCASE", idOrName, cancellationToken);

    public Task<IReadOnlyList<AdminTokenDefinition>> FindAdminTokensByPrefixAsync(string prefix, CancellationToken cancellationToken) =>
        ListAsync(AdminTokenTable, "WHERE prefix = $ref", cancellationToken, ("$ref", prefix));

    public async Task<int> CountActiveAdminTokensAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return (int)await ScalarAsync(connection, null, "SELECT COUNT(*) FROM admin_tokens WHERE revoked_at IS NULL", cancellationToken);
    }

    public Task CreateAdminTokenAsync(AdminTokenDefinition token, CancellationToken cancellationToken) =>
        WriteAsync(AdminTokenTable.Insert, p => AdminTokenTable.Bind(p, token), Duplicate("name", $"an admin token named '{token.Name}' already exists"),
            cancellationToken, configuration: false);

    public async Task<bool> RevokeAdminTokenAsync(string id, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ExecuteAsync(connection, null, "UPDATE admin_tokens SET revoked_at = COALESCE(revoked_at, $at) WHERE id = $id", cancellationToken,
            ("$id", id), ("$at", Timestamp(at))) > 0;
    }

    public async Task TouchAdminTokenAsync(string id, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "UPDATE admin_tokens SET last_used_at = $at WHERE id = $id", cancellationToken, ("$id", id), ("$at", Timestamp(at)));
    }
}
