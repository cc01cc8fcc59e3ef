using System.Text.Json;
using System.Text.Json.Serialization;
using ApiGate.Core.Upstreams;

namespace ApiGate.Storage.Rows;

/// <summary>
/// A row of <c>upstreams</c>. Targets and health checks are JSON text (migration 5); <c>auth_value</c> holds the
/// credential as the store's secret protector left it, so conversion takes the protect/unprotect step.
/// </summary>
internal sealed record UpstreamRow
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Id { get; init; } = "";
    public string Name { get; init; } = "";
    public string Slug { get; init; } = "";
    public string Description { get; init; } = "";
    public string BaseUrl { get; init; } = "";
    public int? TimeoutMs { get; init; }
    public int MaxIdleConns { get; init; }
    public int IdleConnTimeoutMs { get; init; }
    public int MaxConns { get; init; }
    public string AuthType { get; init; } = "";
    public string AuthHeader { get; init; } = "";
    public string AuthValue { get; init; } = "";
    public bool Enabled { get; init; }
    public string CreatedAt { get; init; } = "";
    public string UpdatedAt { get; init; } = "";
    public string Targets { get; init; } = "[]";
    public string LbPolicy { get; init; } = "";
    public string HashOn { get; init; } = "";
    public string HealthCheck { get; init; } = "{}";
    public string HttpVersion { get; init; } = "";

    public static UpstreamRow From(UpstreamDefinition u, Func<string, string> protect) => new()
    {
        Id = u.Id,
        Name = u.Name,
        Slug = u.Slug,
        Description = u.Description,
        BaseUrl = u.BaseUrl,
        TimeoutMs = u.TimeoutMs,
        MaxIdleConns = u.MaxIdleConns,
        IdleConnTimeoutMs = u.IdleConnTimeoutMs,
        MaxConns = u.MaxConns,
        AuthType = StoredValues.Enum(u.AuthType),
        AuthHeader = u.AuthHeader,
        AuthValue = protect(u.AuthValue),
        Enabled = u.Enabled,
        CreatedAt = StoredValues.Time(u.CreatedAt),
        UpdatedAt = StoredValues.Time(u.UpdatedAt),
        Targets = JsonSerializer.Serialize(u.EffectiveTargets, Json),
        LbPolicy = StoredValues.Enum(u.LbPolicy),
        HashOn = u.HashOn,
        HealthCheck = JsonSerializer.Serialize(u.HealthCheck, Json),
        HttpVersion = UpstreamHttpVersionConverter.ToText(u.HttpVersion),
    };

    public UpstreamDefinition ToDefinition(Func<string, string> unprotect) => new()
    {
        Id = Id,
        Name = Name,
        Slug = Slug,
        Description = Description,
        BaseUrl = BaseUrl,
        TimeoutMs = TimeoutMs,
        MaxIdleConns = MaxIdleConns,
        IdleConnTimeoutMs = IdleConnTimeoutMs,
        MaxConns = MaxConns,
        AuthType = StoredValues.Enum<UpstreamAuthType>(AuthType),
        AuthHeader = AuthHeader,
        AuthValue = unprotect(AuthValue),
        Enabled = Enabled,
        CreatedAt = StoredValues.Time(CreatedAt),
        UpdatedAt = StoredValues.Time(UpdatedAt),
        // Rows written before migration 5 hold []: the upstream is then its base_url alone.
        Targets = JsonSerializer.Deserialize<List<UpstreamTarget>>(Targets, Json) is { Count: > 0 } targets ? targets : [new UpstreamTarget(BaseUrl)],
        LbPolicy = StoredValues.Enum<LoadBalancingPolicy>(LbPolicy),
        HashOn = HashOn,
        HealthCheck = JsonSerializer.Deserialize<HealthCheckSettings>(HealthCheck, Json) ?? HealthCheckSettings.Default,
        // Rows from before the http_version migration read 1.1 (the column's default).
        HttpVersion = UpstreamHttpVersionConverter.TryParse(HttpVersion, out var version)
            ? version
            : throw new InvalidDataException($"upstreams.http_version '{HttpVersion}' is not one of {UpstreamHttpVersionConverter.Allowed}"),
    };
}
