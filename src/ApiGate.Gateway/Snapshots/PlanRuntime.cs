using System.Collections.Frozen;
using ApiGate.Core.Entitlements;
using ApiGate.Core.Identity;
using ApiGate.Core.RateLimiting;

namespace ApiGate.Gateway.Snapshots;

/// <summary>A plan compiled for one snapshot: its bucket shape and its resolved entitlement headers.</summary>
internal sealed class PlanRuntime(PlanDefinition definition, TokenBucketPolicy bucket, EntitlementHeader[] entitlementHeaders)
{
    public PlanDefinition Definition { get; } = definition;

    /// <summary>Null rate (0 per minute) = unlimited: no bucket.</summary>
    public TokenBucketPolicy Bucket { get; } = bucket;

    public EntitlementHeader[] EntitlementHeaders { get; } = entitlementHeaders;

    /// <summary>The names of <see cref="EntitlementHeaders"/>, ignoring case: looked up for client headers on each request.</summary>
    public FrozenSet<string> EntitlementHeaderNames { get; } = entitlementHeaders.Select(h => h.Name).ToFrozenSet(StringComparer.OrdinalIgnoreCase);

    public bool RateLimited => Definition.RateLimitPerMinute > 0;

    public bool QuotaLimited => Definition.RequestsPerMonth > 0;

    public bool AllowsOverage => Definition.OveragePrice > 0;

    /// <summary>
    /// The plan's overage is charged through the billing provider's metered price: only a user with a paying subscription
    /// is billed for it, so only they get it (RequestIdentity.AllowsOverage).
    /// </summary>
    public bool BillsOverageThroughProvider { get; } = Core.Billing.SubscriptionOrdering.BillsOverageThroughProvider(definition);

    /// <summary><c>X-RateLimit-Limit</c>, formatted once.</summary>
    public string RateLimitHeader { get; } = ((long)bucket.Capacity).ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary><c>X-Quota-Limit</c>, formatted once.</summary>
    public string QuotaLimitHeader { get; } = definition.RequestsPerMonth.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
