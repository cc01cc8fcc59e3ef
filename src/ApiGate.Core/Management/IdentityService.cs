using System.Globalization;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using ApiGate.Core.Text;
using static ApiGate.Core.Management.Outcomes;

namespace ApiGate.Core.Management;

/// <summary>
/// The one place where plans, users, API keys and entitlements are validated and written (CLI and admin API alike).
/// A refused change returns an error naming the field and writes nothing.
/// </summary>
public sealed class IdentityService(IIdentityStore store, TimeProvider timeProvider, string keyPrefix = "ak_")
{
    // ---- plans ----

    public Task<IReadOnlyList<PlanDefinition>> ListPlansAsync(CancellationToken ct) => store.ListPlansAsync(ct);

    public async Task<ManagementResult<PlanDefinition>> GetPlanAsync(string id, CancellationToken ct) =>
        await store.FindPlanAsync(id, ct) is { } plan ? plan : NotFound("plan", id);

    public async Task<ManagementResult<PlanDefinition>> CreatePlanAsync(PlanInput input, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(input.Name))
        {
            return Invalid("name", "name is required");
        }

        var id = string.IsNullOrWhiteSpace(input.Id) ? Slug.From(input.Name) : input.Id.Trim();
        if (id.Length == 0 || Slug.From(id) != id)
        {
            return Invalid("id", $"'{id}' is not a valid plan id (lower-case letters, digits and '-')");
        }

        var now = timeProvider.GetUtcNow();
        var built = ApplyPlan(new PlanDefinition { Id = id, Name = "", CreatedAt = now, UpdatedAt = now }, input);
        return built.Error ?? await WriteAsync(built.Value!, store.CreatePlanAsync, ct);
    }

    public async Task<ManagementResult<PlanDefinition>> UpdatePlanAsync(string id, PlanInput input, CancellationToken ct)
    {
        var existing = await store.FindPlanAsync(id, ct);
        if (existing is null)
        {
            return NotFound("plan", id);
        }

        var built = ApplyPlan(existing with { UpdatedAt = timeProvider.GetUtcNow() }, input with { Id = null });
        return built.Error ?? await WriteAsync(built.Value!, store.UpdatePlanAsync, ct);
    }

    public async Task<ManagementResult<PlanDefinition>> DeletePlanAsync(string id, CancellationToken ct)
    {
        var existing = await store.FindPlanAsync(id, ct);
        return existing is null ? NotFound("plan", id) : await WriteAsync(existing, (p, c) => store.DeletePlanAsync(p.Id, c), ct);
    }

    // ---- users ----

    public Task<IReadOnlyList<UserDefinition>> ListUsersAsync(CancellationToken ct) => store.ListUsersAsync(ct);

    public async Task<ManagementResult<UserDefinition>> GetUserAsync(string idOrEmail, CancellationToken ct) =>
        await store.FindUserAsync(idOrEmail, ct) is { } user ? user : NotFound("user", idOrEmail);

    public async Task<ManagementResult<UserDefinition>> CreateUserAsync(UserInput input, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(input.Email))
        {
            return Invalid("email", "email is required");
        }

        var planId = input.Plan;
        if (string.IsNullOrWhiteSpace(planId))
        {
            var plans = await store.ListPlansAsync(ct);
            planId = plans.FirstOrDefault(p => p.IsDefault)?.Id;
            if (planId is null)
            {
                return Invalid("plan", "no plan given and no default plan exists (create one with --default)");
            }
        }

        var now = timeProvider.GetUtcNow();
        var built = await ApplyUserAsync(new UserDefinition { Id = Ids.New("usr"), Email = "", PlanId = "", CreatedAt = now, UpdatedAt = now },
            input with { Plan = planId }, ct);
        return built.Error ?? await WriteAsync(built.Value!, store.CreateUserAsync, ct);
    }

    public async Task<ManagementResult<UserDefinition>> UpdateUserAsync(string idOrEmail, UserInput input, CancellationToken ct)
    {
        var existing = await store.FindUserAsync(idOrEmail, ct);
        if (existing is null)
        {
            return NotFound("user", idOrEmail);
        }

        var built = await ApplyUserAsync(existing with { UpdatedAt = timeProvider.GetUtcNow() }, input, ct);
        return built.Error ?? await WriteAsync(built.Value!, store.UpdateUserAsync, ct);
    }

    public async Task<ManagementResult<UserDefinition>> DeleteUserAsync(string idOrEmail, CancellationToken ct)
    {
        var existing = await store.FindUserAsync(idOrEmail, ct);
        return existing is null ? NotFound("user", idOrEmail) : await WriteAsync(existing, (u, c) => store.DeleteUserAsync(u.Id, c), ct);
    }

    // ---- keys ----

    public Task<IReadOnlyList<ApiKeyDefinition>> ListKeysAsync(string? userId, CancellationToken ct) => store.ListKeysAsync(userId, ct);

    public async Task<ManagementResult<CreatedKey>> CreateKeyAsync(KeyInput input, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(input.User))
        {
            return Invalid("user", "user is required (id or email)");
        }

        if (TextFields.Check("name", input.Name) is { } nameProblem)
        {
            return nameProblem;
        }

        var user = await store.FindUserAsync(input.User, ct);
        if (user is null)
        {
            return Invalid("user", $"unknown user '{input.User}'");
        }

        var now = timeProvider.GetUtcNow();
        DateTimeOffset? expires = null;
        if (!string.IsNullOrWhiteSpace(input.Expires))
        {
            if (!TryParseExpiry(input.Expires, now, out var at))
            {
                return Invalid("expires", $"'{input.Expires}' is not a date (2027-01-31, 2027-01-31T12:00:00Z) or a duration (30d, 12h)");
            }

            if (at <= now)
            {
                return Invalid("expires", "expiry must be in the future");
            }

            expires = at;
        }

        var fullKey = ApiKeys.Generate(keyPrefix);
        var key = new ApiKeyDefinition
        {
            Id = Ids.New("key"),
            Name = input.Name?.Trim() ?? "",
            UserId = user.Id,
            Prefix = ApiKeys.PrefixOf(fullKey),
            Hash = ApiKeys.Hash(fullKey),
            ExpiresAt = expires,
            CreatedAt = now,
        };
        var written = await WriteAsync(key, store.CreateKeyAsync, ct);
        return written.Error ?? new ManagementResult<CreatedKey>(new CreatedKey(key, fullKey), null);
    }

    public async Task<ManagementResult<ApiKeyDefinition>> GetKeyAsync(string id, CancellationToken ct) =>
        await store.FindKeyAsync(id, ct) is { } key ? key : NotFound("key", id);

    public async Task<ManagementResult<ApiKeyDefinition>> RevokeKeyAsync(string id, CancellationToken ct)
    {
        var existing = await store.FindKeyAsync(id, ct);
        if (existing is null)
        {
            return NotFound("key", id);
        }

        await store.RevokeKeyAsync(id, timeProvider.GetUtcNow(), ct);
        return (await store.FindKeyAsync(id, ct))!;
    }

    // ---- entitlements ----

    public Task<IReadOnlyList<EntitlementDefinition>> ListEntitlementsAsync(CancellationToken ct) => store.ListEntitlementsAsync(ct);

    public async Task<ManagementResult<EntitlementDefinition>> GetEntitlementAsync(string idOrName, CancellationToken ct) =>
        await store.FindEntitlementAsync(idOrName, ct) is { } e ? e : NotFound("entitlement", idOrName);

    public async Task<ManagementResult<EntitlementDefinition>> CreateEntitlementAsync(EntitlementInput input, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(input.Name))
        {
            return Invalid("name", "name is required");
        }

        var now = timeProvider.GetUtcNow();
        var built = ApplyEntitlement(new EntitlementDefinition { Id = Ids.New("ent"), Name = "", CreatedAt = now, UpdatedAt = now }, input, creating: true);
        return built.Error ?? await WriteAsync(built.Value!, store.CreateEntitlementAsync, ct);
    }

    public async Task<ManagementResult<EntitlementDefinition>> UpdateEntitlementAsync(string idOrName, EntitlementInput input, CancellationToken ct)
    {
        var existing = await store.FindEntitlementAsync(idOrName, ct);
        if (existing is null)
        {
            return NotFound("entitlement", idOrName);
        }

        var built = ApplyEntitlement(existing with { UpdatedAt = timeProvider.GetUtcNow() }, input, creating: false);
        if (built.Error is not null)
        {
            return built.Error;
        }

        // A type change must not strand plan values that no longer fit.
        foreach (var assignment in await store.ListPlanEntitlementsAsync(null, ct))
        {
            if (assignment.EntitlementId == existing.Id && EntitlementResolver.ValidateValue(built.Value!.ValueType, assignment.Value) is { } problem)
            {
                return Invalid("value_type", $"plan '{assignment.PlanId}' has value {problem}; change or delete it first");
            }
        }

        return await WriteAsync(built.Value!, store.UpdateEntitlementAsync, ct);
    }

    public async Task<ManagementResult<EntitlementDefinition>> DeleteEntitlementAsync(string idOrName, CancellationToken ct)
    {
        var existing = await store.FindEntitlementAsync(idOrName, ct);
        return existing is null ? NotFound("entitlement", idOrName) : await WriteAsync(existing, (e, c) => store.DeleteEntitlementAsync(e.Id, c), ct);
    }

    // ---- plan entitlements ----

    /// <summary>A plan's assignments; every plan's when <paramref name="planId"/> is null.</summary>
    public async Task<ManagementResult<IReadOnlyList<PlanEntitlement>>> ListPlanEntitlementsAsync(string? planId, CancellationToken ct)
    {
        if (planId is not null && await store.FindPlanAsync(planId, ct) is null)
        {
            return NotFound("plan", planId);
        }

        return new ManagementResult<IReadOnlyList<PlanEntitlement>>(await store.ListPlanEntitlementsAsync(planId, ct), null);
    }

    public async Task<ManagementResult<PlanEntitlement>> CreatePlanEntitlementAsync(PlanEntitlementInput input, CancellationToken ct)
    {
        var plan = string.IsNullOrWhiteSpace(input.Plan) ? null : await store.FindPlanAsync(input.Plan, ct);
        if (plan is null)
        {
            return Invalid("plan_id", string.IsNullOrWhiteSpace(input.Plan) ? "plan is required" : $"unknown plan '{input.Plan}'");
        }

        var entitlement = string.IsNullOrWhiteSpace(input.Entitlement) ? null : await store.FindEntitlementAsync(input.Entitlement, ct);
        if (entitlement is null)
        {
            return Invalid("entitlement_id", string.IsNullOrWhiteSpace(input.Entitlement) ? "entitlement is required" : $"unknown entitlement '{input.Entitlement}'");
        }

        if (TextFields.Check("value", input.Value) is { } valueProblem)
        {
            return valueProblem;
        }

        var value = input.Value?.Trim() ?? "";
        if (EntitlementResolver.ValidateValue(entitlement.ValueType, value) is { } problem)
        {
            return Invalid("value", $"{problem} (entitlement '{entitlement.Name}' is {WireNames.Of(entitlement.ValueType)})");
        }

        var assignment = new PlanEntitlement
        {
            Id = Ids.New("pe"),
            PlanId = plan.Id,
            EntitlementId = entitlement.Id,
            Value = value,
            Enabled = input.Enabled ?? true,
            CreatedAt = timeProvider.GetUtcNow(),
        };
        return await WriteAsync(assignment, store.CreatePlanEntitlementAsync, ct);
    }

    public async Task<ManagementResult<PlanEntitlement>> GetPlanEntitlementAsync(string id, CancellationToken ct) =>
        await store.FindPlanEntitlementAsync(id, ct) is { } assignment ? assignment : NotFound("plan entitlement", id);

    public async Task<ManagementResult<PlanEntitlement>> DeletePlanEntitlementAsync(string id, CancellationToken ct)
    {
        var existing = await store.FindPlanEntitlementAsync(id, ct);
        return existing is null ? NotFound("plan entitlement", id) : await WriteAsync(existing, (p, c) => store.DeletePlanEntitlementAsync(p.Id, c), ct);
    }

    // ---- rules ----

    /// <summary>Parses an expiry: ISO 8601 date/date-time (UTC unless an offset is given) or a duration from now (<c>30d</c>, <c>12h</c>).</summary>
    public static bool TryParseExpiry(string text, DateTimeOffset now, out DateTimeOffset at)
    {
        try
        {
            return TryParseExpiryCore(text.Trim(), now, out at);
        }
        catch (Exception ex) when (ex is ArgumentOutOfRangeException or OverflowException)
        {
            at = default; // e.g. 99999999d: past the calendar's end
            return false;
        }
    }

    private static bool TryParseExpiryCore(string text, DateTimeOffset now, out DateTimeOffset at)
    {
        if (text.EndsWith('d') && int.TryParse(text[..^1], NumberStyles.None, CultureInfo.InvariantCulture, out var days))
        {
            at = now.AddDays(days);
            return true;
        }

        if (text.Length > 1 && text[^1] is 'h' or 'm' or 's'
            && double.TryParse(text[..^1], NumberStyles.None | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
        {
            at = now + (text[^1] switch { 'h' => TimeSpan.FromHours(amount), 'm' => TimeSpan.FromMinutes(amount), _ => TimeSpan.FromSeconds(amount) });
            return true;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out at);
    }

    private static ManagementResult<PlanDefinition> ApplyPlan(PlanDefinition p, PlanInput input)
    {
        if (TextFields.Check(("name", input.Name), ("description", input.Description)) is { } textProblem)
        {
            return textProblem;
        }

        if (input.Name is not null)
        {
            if (input.Name.Trim().Length == 0)
            {
                return Invalid("name", "name cannot be empty");
            }

            p = p with { Name = input.Name.Trim() };
        }

        if (input.Description is not null)
        {
            p = p with { Description = input.Description };
        }

        if (input.RateLimitPerMinute is { } rate)
        {
            if (rate < 0)
            {
                return Invalid("rate_limit_per_minute", "must be 0 (unlimited) or more");
            }

            p = p with { RateLimitPerMinute = rate };
        }

        if (input.RequestsPerMonth is { } requests)
        {
            if (requests < -1)
            {
                return Invalid("requests_per_month", "must be 0 or -1 (unlimited) or more");
            }

            p = p with { RequestsPerMonth = Math.Max(0, requests) };
        }

        if (input.PriceMonthly is { } price)
        {
            if (price < 0)
            {
                return Invalid("price_monthly", "must be 0 or more (cents)");
            }

            p = p with { PriceMonthly = price };
        }

        if (input.OveragePrice is { } overage)
        {
            if (overage < 0)
            {
                return Invalid("overage_price", "must be 0 or more (cents per unit)");
            }

            p = p with { OveragePrice = overage };
        }

        if (input.IsDefault is { } isDefault)
        {
            p = p with { IsDefault = isDefault };
        }

        if (input.Enabled is { } enabled)
        {
            p = p with { Enabled = enabled };
        }

        return p;
    }

    private async Task<ManagementResult<UserDefinition>> ApplyUserAsync(UserDefinition u, UserInput input, CancellationToken ct)
    {
        if (TextFields.Check(("email", input.Email), ("name", input.Name)) is { } textProblem)
        {
            return textProblem;
        }

        if (input.Email is not null)
        {
            var email = input.Email.Trim();
            var at = email.IndexOf('@');
            if (at <= 0 || at == email.Length - 1 || email.IndexOf('@', at + 1) >= 0 || email.Any(char.IsWhiteSpace) || email.Length > 254)
            {
                return Invalid("email", $"'{input.Email}' is not an email address");
            }

            u = u with { Email = email };
        }

        if (input.Name is not null)
        {
            u = u with { Name = input.Name.Trim() };
        }

        if (input.Plan is not null)
        {
            var plan = await store.FindPlanAsync(input.Plan.Trim(), ct);
            if (plan is null)
            {
                return Invalid("plan", $"unknown plan '{input.Plan}'");
            }

            if (!plan.Enabled && plan.Id != u.PlanId)
            {
                return Invalid("plan", $"plan '{plan.Id}' is disabled; enable it or choose another");
            }

            u = u with { PlanId = plan.Id };
        }

        if (input.Status is not null)
        {
            if (!WireNames.TryParse<UserStatus>(input.Status, out var status))
            {
                return Invalid("status", $"'{input.Status}' is not one of {WireNames.List<UserStatus>()}");
            }

            u = u with { Status = status };
        }

        return u;
    }

    private static ManagementResult<EntitlementDefinition> ApplyEntitlement(EntitlementDefinition e, EntitlementInput input, bool creating)
    {
        if (TextFields.Check(
                ("name", input.Name), ("display_name", input.DisplayName), ("description", input.Description), ("category", input.Category),
                ("default_value", input.DefaultValue), ("header_name", input.HeaderName)) is { } textProblem)
        {
            return textProblem;
        }

        if (input.Name is not null)
        {
            var name = input.Name.Trim();
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_'))
            {
                return Invalid("name", $"'{input.Name}' is not a valid name (lower-case letters, digits and '_', e.g. max_api_keys)");
            }

            e = e with { Name = name };
        }

        if (input.DisplayName is not null)
        {
            e = e with { DisplayName = input.DisplayName };
        }

        if (input.Description is not null)
        {
            e = e with { Description = input.Description };
        }

        if (input.Category is not null)
        {
            e = e with { Category = input.Category };
        }

        if (input.ValueType is not null)
        {
            if (!WireNames.TryParse<EntitlementValueType>(input.ValueType, out var type))
            {
                return Invalid("value_type", $"'{input.ValueType}' is not one of {WireNames.List<EntitlementValueType>()}");
            }

            e = e with { ValueType = type };
        }

        if (input.DefaultValue is not null)
        {
            e = e with { DefaultValue = input.DefaultValue.Trim() };
        }
        else if (creating)
        {
            e = e with { DefaultValue = e.ValueType switch { EntitlementValueType.Boolean => "false", EntitlementValueType.Number => "0", _ => "" } };
        }

        if (EntitlementResolver.ValidateValue(e.ValueType, e.DefaultValue) is { } problem)
        {
            return Invalid("default_value", problem);
        }

        if (input.HeaderName is not null)
        {
            var header = input.HeaderName.Trim();
            if (header.Length > 0 && !header.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                return Invalid("header_name", $"'{input.HeaderName}' is not a valid header name");
            }

            e = e with { HeaderName = header };
        }

        if (input.Enabled is { } enabled)
        {
            e = e with { Enabled = enabled };
        }

        return e;
    }
}
