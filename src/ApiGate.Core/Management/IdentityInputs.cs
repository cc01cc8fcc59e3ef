using ApiGate.Core.Entitlements;
using ApiGate.Core.Identity;
using ApiGate.Core.Text;
using static ApiGate.Core.Management.Outcomes;

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

    /// <summary>Monthly price in cents (2900 = 29.00), 0 or more.</summary>
    public long? PriceMonthly { get; init; }

    /// <summary>Cents per unit past the quota, 0 or more (0 = refuse with 402 instead).</summary>
    public long? OveragePrice { get; init; }
    public bool? IsDefault { get; init; }
    public bool? Enabled { get; init; }

    /// <summary>Offered on the customer portal's plan page.</summary>
    public bool? Visible { get; init; }
    /// <summary>Stripe price of the subscription (<c>price_…</c>); empty text clears it.</summary>
    public string? StripePriceId { get; init; }

    /// <summary>Stripe metered price for overage (<c>price_…</c>); empty text clears it.</summary>
    public string? StripeOveragePriceId { get; init; }

    /// <summary>Event name of the Stripe meter overage is reported to; empty text clears it.</summary>
    public string? StripeMeterEvent { get; init; }
}

/// <summary>
/// The text form of a user change, as the admin API's JSON body and the CLI's options carry it; null = not given.
/// <see cref="ToChanges"/> parses it once, at the edge, into <see cref="UserChanges"/>.
/// </summary>
public sealed record UserInput
{
    public string? Email { get; init; }
    public string? Name { get; init; }

    /// <summary>Plan id; the default plan when omitted on create.</summary>
    public string? Plan { get; init; }

    /// <summary><c>active</c> (default), <c>pending</c>, <c>suspended</c>, <c>cancelled</c>.</summary>
    public string? Status { get; init; }

    /// <summary>Parses every given field into its type; a field that cannot be read is an error naming it.</summary>
    public ManagementResult<UserChanges> ToChanges()
    {
        UserStatus? status = null;
        if (Status is not null)
        {
            if (!WireNames.TryParse<UserStatus>(Status, out var parsed))
            {
                return Invalid("status", $"'{Status}' is not one of {WireNames.List<UserStatus>()}");
            }

            status = parsed;
        }

        return new UserChanges { Email = Email, Name = Name, Plan = Plan, Status = status };
    }
}

/// <summary>
/// The text form of a JWT identity to link to a user or unlink from it, as the admin API's JSON body and the CLI's
/// options carry it; <see cref="ToLink"/> parses it once, at the edge.
/// </summary>
public sealed record IdentityInput
{
    /// <summary>The value of the token's user claim (<c>jwt.user_claim</c>, <c>sub</c> by default), exactly as the issuer sends it.</summary>
    public string? Subject { get; init; }

    /// <summary>The issuer URL; the gateway's <c>jwt.issuer</c> when omitted.</summary>
    public string? Issuer { get; init; }

    /// <summary>
    /// The identity, with the issuer spelled as <paramref name="configuredIssuer"/> (the gateway's <c>jwt.issuer</c>,
    /// empty when none) when it is that one with or without a trailing slash: tokens are matched to links under the
    /// setting's spelling.
    /// </summary>
    public ManagementResult<IdentityLink> ToLink(string configuredIssuer)
    {
        if (string.IsNullOrEmpty(Subject))
        {
            return Invalid("subject", "subject is required: the value of the token's user claim (jwt.user_claim, 'sub' by default)");
        }

        if ((TextFields.Check("subject", Subject) ?? TextFields.CheckName("subject", Subject)) is { } subjectProblem)
        {
            return subjectProblem;
        }

        if (Subject.Trim().Length != Subject.Length)
        {
            return Invalid("subject", "starts or ends with white space: a token's subject is compared exactly, so this would match no token");
        }

        var issuer = string.IsNullOrWhiteSpace(Issuer) ? configuredIssuer : Issuer.Trim();
        if (issuer.Length == 0)
        {
            return Invalid("issuer", "no issuer given, and the gateway has none configured (jwt.issuer, APIGATE_JWT_ISSUER)");
        }

        if ((TextFields.Check("issuer", issuer) ?? TextFields.CheckName("issuer", issuer)) is { } issuerProblem)
        {
            return issuerProblem;
        }

        if (!Uri.TryCreate(issuer, UriKind.Absolute, out var uri) || uri.Scheme is not ("https" or "http"))
        {
            return Invalid("issuer", $"'{issuer}' is not an http(s) URL");
        }

        if (configuredIssuer.Length > 0 && UserIdentity.SameIssuer(issuer, configuredIssuer))
        {
            issuer = configuredIssuer;
        }

        return new IdentityLink(issuer, Subject);
    }
}

/// <summary>A JWT identity as the edge parsed it: the issuer (as the gateway spells it) and the subject.</summary>
public sealed record IdentityLink(string Issuer, string Subject);

/// <summary>
/// A typed change to a user, as the edge parsed it: null = not given (keep on update, default on create).
/// <see cref="UserService"/> checks the domain rules only (email shape, plan exists and is enabled).
/// </summary>
public sealed record UserChanges
{
    public string? Email { get; init; }
    public string? Name { get; init; }

    /// <summary>Plan id; the default plan when omitted on create.</summary>
    public string? Plan { get; init; }

    public UserStatus? Status { get; init; }
}

/// <summary>
/// The text form of a new API key, as the admin API's JSON body and the CLI's options carry it; null = not given.
/// <see cref="ToChanges"/> parses it once, at the edge, into <see cref="KeyChanges"/>.
/// </summary>
public sealed record KeyInput
{
    /// <summary>Owner: user id or email.</summary>
    public string? User { get; init; }
    public string? Name { get; init; }

    /// <summary>ISO 8601 date or date-time (UTC when no offset is given), or a duration from now such as <c>30d</c>; must be in the future.</summary>
    public string? Expires { get; init; }

    /// <summary>
    /// Parses the expiry into an instant; a duration counts from <paramref name="clock"/>'s now. Blank = never.
    /// Whether the instant is in the future is the service's rule, checked against its own clock.
    /// </summary>
    public ManagementResult<KeyChanges> ToChanges(TimeProvider clock)
    {
        DateTimeOffset? expiresAt = null;
        if (!string.IsNullOrWhiteSpace(Expires))
        {
            if (!KeyService.TryParseExpiry(Expires, clock.GetUtcNow(), out var at, out var pastCalendarEnd))
            {
                return Invalid("expires", !pastCalendarEnd
                    ? $"'{Expires}' is not a date (2027-01-31, 2027-01-31T12:00:00Z) or a duration (30d, 12h)"
                    : char.IsAsciiDigit(Expires.TrimEnd()[^1])
                        ? $"'{Expires}' is past the calendar's end (year 9999) in UTC: give an earlier date or a duration"
                        : $"'{Expires}' from now would be past the calendar's end (year 9999): give a shorter duration or a date");
            }

            if (KeyService.HasFractionOfAMillisecond(Expires))
            {
                // Stored to the millisecond, as every other duration: 0.0001s would be cut, not kept.
                return Invalid("expires", UpstreamInput.NotWholeMilliseconds(Expires.Trim(), "the expiry", "from now (a duration such as 1.5s, 12h or 30d) or a date"));
            }

            if (KeyService.IsDateFinerThanAMillisecond(Expires))
            {
                return Invalid("expires", $"'{Expires.Trim()}' has a fraction of a millisecond: the expiry is kept to the millisecond, so give at most three digits after the seconds' point");
            }

            expiresAt = at;
        }

        return new KeyChanges { User = User, Name = Name, ExpiresAt = expiresAt };
    }
}

/// <summary>A new API key, as the edge parsed it; <see cref="KeyService"/> checks the owner, the name and that the expiry is in the future.</summary>
public sealed record KeyChanges
{
    /// <summary>Owner: user id or email.</summary>
    public string? User { get; init; }
    public string? Name { get; init; }

    /// <summary>When the key stops working; null = never.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <summary>
    /// Refuse (conflict on <c>keys</c>) when the user has this many unrevoked keys already, counted in the write's own
    /// transaction (the portal's limit); null = no limit (the admin API and the CLI).
    /// </summary>
    public int? MaxActiveKeys { get; init; }
}

/// <summary>
/// The text form of an entitlement change, as the admin API's JSON body and the CLI's options carry it; null = not
/// given. <see cref="ToChanges"/> parses it once, at the edge, into <see cref="EntitlementChanges"/>.
/// </summary>
public sealed record EntitlementInput
{
    public string? Name { get; init; }
    public string? DisplayName { get; init; }
    public string? Description { get; init; }
    public string? Category { get; init; }

    /// <summary><c>boolean</c> (default), <c>number</c>, <c>string</c>.</summary>
    public string? ValueType { get; init; }

    public string? DefaultValue { get; init; }
    public string? HeaderName { get; init; }
    public bool? Enabled { get; init; }

    /// <summary>Parses every given field into its type; a field that cannot be read is an error naming it.</summary>
    public ManagementResult<EntitlementChanges> ToChanges()
    {
        EntitlementValueType? valueType = null;
        if (ValueType is not null)
        {
            if (!WireNames.TryParse<EntitlementValueType>(ValueType, out var parsed))
            {
                return Invalid("value_type", $"'{ValueType}' is not one of {WireNames.List<EntitlementValueType>()}");
            }

            valueType = parsed;
        }

        return new EntitlementChanges
        {
            Name = Name,
            DisplayName = DisplayName,
            Description = Description,
            Category = Category,
            ValueType = valueType,
            DefaultValue = DefaultValue,
            HeaderName = HeaderName,
            Enabled = Enabled,
        };
    }
}

/// <summary>
/// A typed change to an entitlement, as the edge parsed it: null = not given (keep on update, default on create).
/// <see cref="EntitlementService"/> checks the domain rules only (name shape, default value fits the type, header name).
/// </summary>
public sealed record EntitlementChanges
{
    public string? Name { get; init; }
    public string? DisplayName { get; init; }
    public string? Description { get; init; }
    public string? Category { get; init; }
    public EntitlementValueType? ValueType { get; init; }

    /// <summary>Checked against the value type; on create, omitted = <c>false</c>, <c>0</c> or empty by type.</summary>
    public string? DefaultValue { get; init; }

    /// <summary>Header to send instead of <c>X-Entitlement-&lt;Name&gt;</c>; empty = derived.</summary>
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
