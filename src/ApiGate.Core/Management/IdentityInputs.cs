namespace ApiGate.Core.Management;

/// <summary>Fields for creating or updating a plan; null = not given.</summary>
public sealed record PlanInput
{
    /// <summary>Plan id (e.g. <c>pro</c>); derived from the name when omitted on create.</summary>
    public string? Id { get; init; }
    public string? Name { get; init; }
    public string? Description { get; init; }
    public int? RateLimitPerMinute { get; init; }
    public long? RequestsPerMonth { get; init; }
    public long? PriceMonthly { get; init; }
    public long? OveragePrice { get; init; }
    public bool? IsDefault { get; init; }
    public bool? Enabled { get; init; }
}

/// <summary>Fields for creating or updating a user; null = not given.</summary>
public sealed record UserInput
{
    public string? Email { get; init; }
    public string? Name { get; init; }

    /// <summary>Plan id; the default plan when omitted on create.</summary>
    public string? Plan { get; init; }

    /// <summary><c>active</c> (default), <c>pending</c>, <c>suspended</c>, <c>cancelled</c>.</summary>
    public string? Status { get; init; }
}

/// <summary>Fields for creating an API key.</summary>
public sealed record KeyInput
{
    /// <summary>Owner: user id or email.</summary>
    public string? User { get; init; }
    public string? Name { get; init; }

    /// <summary>ISO 8601 date or date-time (UTC when no offset is given), or a duration from now such as <c>30d</c>; must be in the future.</summary>
    public string? Expires { get; init; }
}

/// <summary>Fields for creating or updating an entitlement; null = not given.</summary>
public sealed record EntitlementInput
{
    public string? Name { get; init; }
    public string? DisplayName { get; init; }
    public string? Description { get; init; }
    public string? Category { get; init; }
    public string? ValueType { get; init; }
    public string? DefaultValue { get; init; }
    public string? HeaderName { get; init; }
    public bool? Enabled { get; init; }
}

/// <summary>Fields for assigning an entitlement value to a plan.</summary>
public sealed record PlanEntitlementInput
{
    public string? Plan { get; init; }

    /// <summary>Entitlement id or name.</summary>
    public string? Entitlement { get; init; }

    public string? Value { get; init; }
    public bool? Enabled { get; init; }
}

/// <summary>A created key: the stored record and the full key, which is shown once and never again.</summary>
public sealed record CreatedKey(Identity.ApiKeyDefinition Key, string FullKey);
