using ApiGate.Core.Entitlements;
using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using Microsoft.Data.Sqlite;

namespace ApiGate.Storage.Sqlite;

/// <summary>Plans, users, API keys, entitlements and quota usage.</summary>
public sealed partial class SqliteGatewayStore
{
    private static readonly SqliteTable<PlanDefinition> Plans = new(
        "plans",
        "id, name, description, rate_limit_per_minute, requests_per_month, price_monthly, overage_price, is_default, enabled, created_at, updated_at",
        "id",
        (p, v) =>
        {
            p.AddWithValue("$id", v.Id);
            p.AddWithValue("$name", v.Name);
            p.AddWithValue("$description", v.Description);
            p.AddWithValue("$rate_limit_per_minute", v.RateLimitPerMinute);
            p.AddWithValue("$requests_per_month", v.RequestsPerMonth);
            p.AddWithValue("$price_monthly", v.PriceMonthly);
            p.AddWithValue("$overage_price", v.OveragePrice);
            p.AddWithValue("$is_default", v.IsDefault);
            p.AddWithValue("$enabled", v.Enabled);
            p.AddWithValue("$created_at", Timestamp(v.CreatedAt));
            p.AddWithValue("$updated_at", Timestamp(v.UpdatedAt));
        },
        r => new PlanDefinition
        {
            Id = r.GetString(0),
            Name = r.GetString(1),
            Description = r.GetString(2),
            RateLimitPerMinute = r.GetInt32(3),
            RequestsPerMonth = r.GetInt64(4),
            PriceMonthly = r.GetInt64(5),
            OveragePrice = r.GetInt64(6),
            IsDefault = r.GetBoolean(7),
            Enabled = r.GetBoolean(8),
            CreatedAt = Time(r.GetString(9)),
            UpdatedAt = Time(r.GetString(10)),
        });

    private const string UserColumns = "id, email, name, plan_id, status, created_at, updated_at";

    private static readonly SqliteTable<UserDefinition> Users = new(
        "users", UserColumns, "email",
        (p, v) =>
        {
            p.AddWithValue("$id", v.Id);
            p.AddWithValue("$email", v.Email);
            p.AddWithValue("$name", v.Name);
            p.AddWithValue("$plan_id", v.PlanId);
            p.AddWithValue("$status", Core.Text.WireNames.Of(v.Status));
            p.AddWithValue("$created_at", Timestamp(v.CreatedAt));
            p.AddWithValue("$updated_at", Timestamp(v.UpdatedAt));
        },
        r => ReadUser(r, 0));

    private const string KeyColumns = "id, name, user_id, prefix, hash, expires_at, revoked_at, last_used_at, created_at";

    private static readonly SqliteTable<ApiKeyDefinition> Keys = new(
        "api_keys", KeyColumns, "created_at DESC, id",
        (p, v) =>
        {
            p.AddWithValue("$id", v.Id);
            p.AddWithValue("$name", v.Name);
            p.AddWithValue("$user_id", v.UserId);
            p.AddWithValue("$prefix", v.Prefix);
            p.AddWithValue("$hash", v.Hash);
            p.AddWithValue("$expires_at", TimestampOrNull(v.ExpiresAt));
            p.AddWithValue("$revoked_at", TimestampOrNull(v.RevokedAt));
            p.AddWithValue("$last_used_at", TimestampOrNull(v.LastUsedAt));
            p.AddWithValue("$created_at", Timestamp(v.CreatedAt));
        },
        ReadKey);

    private static readonly SqliteTable<EntitlementDefinition> Entitlements = new(
        "entitlements",
        "id, name, display_name, description, category, value_type, default_value, header_name, enabled, created_at, updated_at",
        "name",
        (p, v) =>
        {
            p.AddWithValue("$id", v.Id);
            p.AddWithValue("$name", v.Name);
            p.AddWithValue("$display_name", v.DisplayName);
            p.AddWithValue("$description", v.Description);
            p.AddWithValue("$category", v.Category);
            p.AddWithValue("$value_type", Core.Text.WireNames.Of(v.ValueType));
            p.AddWithValue("$default_value", v.DefaultValue);
            p.AddWithValue("$header_name", v.HeaderName);
            p.AddWithValue("$enabled", v.Enabled);
            p.AddWithValue("$created_at", Timestamp(v.CreatedAt));
            p.AddWithValue("$updated_at", Timestamp(v.UpdatedAt));
        },
        r => new EntitlementDefinition
        {
            Id = r.GetString(0),
            Name = r.GetString(1),
            DisplayName = r.GetString(2),
            Description = r.GetString(3),
            Category = r.GetString(4),
            ValueType = Enum<EntitlementValueType>(r.GetString(5)),
            DefaultValue = r.GetString(6),
            HeaderName = r.GetString(7),
            Enabled = r.GetBoolean(8),
            CreatedAt = Time(r.GetString(9)),
            UpdatedAt = Time(r.GetString(10)),
        });

    private static readonly SqliteTable<PlanEntitlement> PlanEntitlements = new(
        "plan_entitlements", "id, plan_id, entitlement_id, value, enabled, created_at", "plan_id, entitlement_id",
        (p, v) =>
        {
            p.AddWithValue("$id", v.Id);
            p.AddWithValue("$plan_id", v.PlanId);
            p.AddWithValue("$entitlement_id", v.EntitlementId);
            p.AddWithValue("$value", v.Value);
            p.AddWithValue("$enabled", v.Enabled);
            p.AddWithValue("$created_at", Timestamp(v.CreatedAt));
        },
        r => new PlanEntitlement
        {
            Id = r.GetString(0),
            PlanId = r.GetString(1),
            EntitlementId = r.GetString(2),
            Value = r.GetString(3),
            Enabled = r.GetBoolean(4),
            CreatedAt = Time(r.GetString(5)),
        });

    public Task<IReadOnlyList<PlanDefinition>> ListPlansAsync(CancellationToken cancellationToken) => ListAsync(Plans, "", cancellationToken);

    public Task<PlanDefinition?> FindPlanAsync(string id, CancellationToken cancellationToken) => FindAsync(Plans, "WHERE id = $ref", id, cancellationToken);

    public Task CreatePlanAsync(PlanDefinition plan, CancellationToken cancellationToken) =>
        WritePlanAsync(Plans.Insert, plan, cancellationToken);

    public Task UpdatePlanAsync(PlanDefinition plan, CancellationToken cancellationToken) =>
        WritePlanAsync(Plans.Update, plan, cancellationToken);

    public Task DeletePlanAsync(string id, CancellationToken cancellationToken) =>
        DeleteGuardedAsync("plans", id, "SELECT email FROM users WHERE plan_id = $ref ORDER BY email LIMIT 5",
            users => new StoreConflictException("plan", $"plan has users ({string.Join(", ", users)}{(users.Count == 5 ? ", …" : "")}): move them to another plan first"),
            ["DELETE FROM plan_entitlements WHERE plan_id = $id"], cancellationToken);

    public Task<IReadOnlyList<UserDefinition>> ListUsersAsync(CancellationToken cancellationToken) => ListAsync(Users, "", cancellationToken);

    public Task<UserDefinition?> FindUserAsync(string idOrEmail, CancellationToken cancellationToken) =>
        FindAsync(Users, "WHERE id = $ref OR email = $ref COLLATE NOCASE", idOrEmail, cancellationToken);

    public Task CreateUserAsync(UserDefinition user, CancellationToken cancellationToken) =>
        WriteAsync(Users.Insert, p => Users.Bind(p, user), Duplicate("email", $"a user with email '{user.Email}' already exists"), cancellationToken);

    public Task UpdateUserAsync(UserDefinition user, CancellationToken cancellationToken) =>
        WriteAsync(Users.Update, p => Users.Bind(p, user), Duplicate("email", $"a user with email '{user.Email}' already exists"), cancellationToken);

    public Task DeleteUserAsync(string id, CancellationToken cancellationToken) =>
        DeleteGuardedAsync("users", id, null, null, ["DELETE FROM api_keys WHERE user_id = $id"], cancellationToken);

    public Task<IReadOnlyList<ApiKeyDefinition>> ListKeysAsync(string? userId, CancellationToken cancellationToken) =>
        userId is null ? ListAsync(Keys, "", cancellationToken) : ListAsync(Keys, "WHERE user_id = $ref", cancellationToken, ("$ref", userId));

    public Task<ApiKeyDefinition?> FindKeyAsync(string id, CancellationToken cancellationToken) => FindAsync(Keys, "WHERE id = $ref", id, cancellationToken);

    public Task CreateKeyAsync(ApiKeyDefinition key, CancellationToken cancellationToken) =>
        WriteAsync(Keys.Insert, p => Keys.Bind(p, key), Duplicate("key", "key collision; create it again"), cancellationToken);

    public async Task<bool> RevokeKeyAsync(string id, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = BeginWrite(connection);
        var changed = await ExecuteAsync(connection, transaction, "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $at) WHERE id = $id", cancellationToken,
            ("$id", id), ("$at", Timestamp(at)));
        await BumpVersionAsync(connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return changed > 0;
    }

    public async Task<IReadOnlyList<(ApiKeyDefinition Key, UserDefinition User)>> FindKeysByPrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var sql = $"SELECT {Prefixed("k", KeyColumns)}, {Prefixed("u", UserColumns)} FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.prefix = $prefix";
        return await QueryAsync(connection, null, sql, r => (ReadKey(r), ReadUser(r, 9)), cancellationToken, ("$prefix", prefix));
    }

    public async Task TouchKeysAsync(IReadOnlyDictionary<string, DateTimeOffset> lastUsed, CancellationToken cancellationToken)
    {
        if (lastUsed.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = BeginWrite(connection);
        foreach (var (id, at) in lastUsed)
        {
            await ExecuteAsync(connection, transaction, "UPDATE api_keys SET last_used_at = $at WHERE id = $id", cancellationToken, ("$id", id), ("$at", Timestamp(at)));
        }

        await transaction.CommitAsync(cancellationToken); // no version bump: usage is not configuration
    }

    public Task<IReadOnlyList<EntitlementDefinition>> ListEntitlementsAsync(CancellationToken cancellationToken) => ListAsync(Entitlements, "", cancellationToken);

    public Task<EntitlementDefinition?> FindEntitlementAsync(string idOrName, CancellationToken cancellationToken) =>
        FindAsync(Entitlements, "WHERE id = $ref OR name = $ref", idOrName, cancellationToken);

    public Task CreateEntitlementAsync(EntitlementDefinition entitlement, CancellationToken cancellationToken) =>
        WriteAsync(Entitlements.Insert, p => Entitlements.Bind(p, entitlement), Duplicate("name", $"an entitlement named '{entitlement.Name}' already exists"), cancellationToken);

    public Task UpdateEntitlementAsync(EntitlementDefinition entitlement, CancellationToken cancellationToken) =>
        WriteAsync(Entitlements.Update, p => Entitlements.Bind(p, entitlement), Duplicate("name", $"an entitlement named '{entitlement.Name}' already exists"), cancellationToken);

    public Task DeleteEntitlementAsync(string id, CancellationToken cancellationToken) =>
        DeleteGuardedAsync("entitlements", id, null, null, ["DELETE FROM plan_entitlements WHERE entitlement_id = $id"], cancellationToken);

    public Task<IReadOnlyList<PlanEntitlement>> ListPlanEntitlementsAsync(string? planId, CancellationToken cancellationToken) =>
        planId is null ? ListAsync(PlanEntitlements, "", cancellationToken) : ListAsync(PlanEntitlements, "WHERE plan_id = $ref", cancellationToken, ("$ref", planId));

    public Task<PlanEntitlement?> FindPlanEntitlementAsync(string id, CancellationToken cancellationToken) =>
        FindAsync(PlanEntitlements, "WHERE id = $ref", id, cancellationToken);

    public Task CreatePlanEntitlementAsync(PlanEntitlement assignment, CancellationToken cancellationToken) =>
        WriteAsync(PlanEntitlements.Insert, p => PlanEntitlements.Bind(p, assignment),
            Duplicate("entitlement_id", "this plan already has a value for this entitlement; delete it first"), cancellationToken);

    public Task DeletePlanEntitlementAsync(string id, CancellationToken cancellationToken) =>
        WriteAsync("DELETE FROM plan_entitlements WHERE id = $id", p => p.AddWithValue("$id", id), null, cancellationToken);

    public async Task<IReadOnlyList<QuotaUsage>> LoadQuotaUsageAsync(DateTimeOffset periodStart, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var period = Timestamp(periodStart);
        return await QueryAsync(connection, null, "SELECT user_id, used, overage FROM quota_usage WHERE period_start = $p",
            r => new QuotaUsage(r.GetString(0), periodStart, r.GetInt64(1), r.GetInt64(2)), cancellationToken, ("$p", period));
    }

    public async Task AddQuotaUsageAsync(IReadOnlyList<QuotaUsage> deltas, CancellationToken cancellationToken)
    {
        if (deltas.Count == 0)
        {
            return;
        }

        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = BeginWrite(connection);
        foreach (var delta in deltas)
        {
            await AddQuotaAsync(connection, transaction, delta, cancellationToken);
        }

        await transaction.CommitAsync(cancellationToken);
    }

    private static Task<int> AddQuotaAsync(SqliteConnection connection, SqliteTransaction transaction, QuotaUsage delta, CancellationToken cancellationToken) =>
        ExecuteAsync(connection, transaction,
            "INSERT INTO quota_usage (user_id, period_start, used, overage) VALUES ($u, $p, $used, $over) " +
            "ON CONFLICT (user_id, period_start) DO UPDATE SET used = used + excluded.used, overage = overage + excluded.overage",
            cancellationToken, ("$u", delta.UserId), ("$p", Timestamp(delta.PeriodStart)), ("$used", delta.Used), ("$over", delta.Overage));

    private async Task WritePlanAsync(string sql, PlanDefinition plan, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = BeginWrite(connection);
        if (plan.IsDefault)
        {
            await ExecuteAsync(connection, transaction, "UPDATE plans SET is_default = 0 WHERE id <> $id", cancellationToken, ("$id", plan.Id));
        }

        await using (var command = Command(connection, transaction, sql))
        {
            Plans.Bind(command.Parameters, plan);
            try
            {
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
            {
                throw new StoreConflictException("id", $"a plan with id '{plan.Id}' already exists");
            }
        }

        await BumpVersionAsync(connection, transaction, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    private static string Prefixed(string alias, string columns) => string.Join(", ", columns.Split(", ").Select(c => alias + "." + c));

    private static UserDefinition ReadUser(SqliteDataReader r, int o) => new()
    {
        Id = r.GetString(o),
        Email = r.GetString(o + 1),
        Name = r.GetString(o + 2),
        PlanId = r.GetString(o + 3),
        Status = Enum<UserStatus>(r.GetString(o + 4)),
        CreatedAt = Time(r.GetString(o + 5)),
        UpdatedAt = Time(r.GetString(o + 6)),
    };

    private static ApiKeyDefinition ReadKey(SqliteDataReader r) => new()
    {
        Id = r.GetString(0),
        Name = r.GetString(1),
        UserId = r.GetString(2),
        Prefix = r.GetString(3),
        Hash = r.GetString(4),
        ExpiresAt = TimeOrNull(r, 5),
        RevokedAt = TimeOrNull(r, 6),
        LastUsedAt = TimeOrNull(r, 7),
        CreatedAt = Time(r.GetString(8)),
    };
}
