using System.Text.Json.Serialization;

namespace ApiGate.Core.Usage;

/// <summary>
/// One proxied request as recorded for billing and analytics (SPEC §8). Immutable; built when the exchange ends and
/// written to the store off the request path. A struct so the request path can copy it into the recorder's
/// preallocated ring without allocating; its strings are ones the request already holds.
/// </summary>
public readonly record struct UsageEvent
{
    /// <summary>What <see cref="UserId"/> and <see cref="KeyId"/> hold for requests on public routes.</summary>
    public const string Anonymous = "anonymous";

    /// <summary>The key owner's id, or <see cref="Anonymous"/>.</summary>
    public required string UserId { get; init; }

    /// <summary>The key's id (never the key itself), or <see cref="Anonymous"/>.</summary>
    public required string KeyId { get; init; }

    /// <summary>The matched route's id; empty when the request went to the default upstream without a route.</summary>
    public required string RouteId { get; init; }

    /// <summary>The upstream the request was forwarded to; empty for the default upstream.</summary>
    public required string UpstreamId { get; init; }

    public required string Method { get; init; }

    /// <summary>The path the client asked for (before any rewrite), without the query string.</summary>
    public required string Path { get; init; }

    /// <summary>The status code sent to the client.</summary>
    public int Status { get; init; }

    /// <summary>From the request's arrival to the end of the response, in milliseconds.</summary>
    public double LatencyMs { get; init; }

    public long RequestBytes { get; init; }

    public long ResponseBytes { get; init; }

    /// <summary>Metered units (see <see cref="Metering.Meter"/>); what the monthly quota counts.</summary>
    public long Units { get; init; }

    /// <summary>
    /// The monthly quota past which this request's units are overage: the limit of the plan it was admitted on when that
    /// plan bills overage; 0 when it bills none (no overage price, or unlimited). Not a column of the event: the store
    /// reads the overage off the user's stored quota counter as it adds the units, in the order it counts them
    /// (<see cref="UsageAggregate.CountOverage"/>), so the requests of a month — from every instance, overlapping or
    /// not — add up to exactly the units past the quota. Not shown either (<c>usage recent --json</c>, the admin API): read
    /// back from the store it would always be 0, whatever was billed.
    /// </summary>
    [JsonIgnore]
    public long OverageAbove { get; init; }

    /// <summary>
    /// The billing meter the overage is reported to: the Stripe meter event name of the plan the request was admitted on
    /// (empty when that plan bills no overage through Stripe). Carried with the event so a plan change between the
    /// request and the batch's write bills the units where they were used. Not stored with the event, so not shown.
    /// </summary>
    [JsonIgnore]
    public string OverageMeter
    {
        get => _overageMeter ?? "";
        init => _overageMeter = value;
    }

    private readonly string? _overageMeter;

    public required string ClientIp { get; init; }

    /// <summary>The <c>X-Request-ID</c> returned to the client.</summary>
    public required string RequestId { get; init; }

    /// <summary>When the request arrived.</summary>
    public DateTimeOffset Timestamp { get; init; }
}
