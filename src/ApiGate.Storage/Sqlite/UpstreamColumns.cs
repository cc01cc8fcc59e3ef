using System.Text.Json;
using System.Text.Json.Serialization;
using ApiGate.Core.Text;
using ApiGate.Core.Upstreams;
using Microsoft.Data.Sqlite;

namespace ApiGate.Storage.Sqlite;

/// <summary>The load-balancing columns of <c>upstreams</c> (migration 5): targets and health checks as JSON text; and the HTTP version.</summary>
internal static class UpstreamColumns
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public static void Bind(SqliteParameterCollection p, UpstreamDefinition u)
    {
        p.AddWithValue("$targets", JsonSerializer.Serialize(u.EffectiveTargets, Json));
        p.AddWithValue("$lb_policy", WireNames.Of(u.LbPolicy));
        p.AddWithValue("$hash_on", u.HashOn);
        p.AddWithValue("$health_check", JsonSerializer.Serialize(u.HealthCheck, Json));
        p.AddWithValue("$http_version", UpstreamHttpVersionConverter.ToText(u.HttpVersion));
    }

    /// <summary>The <c>http_version</c> column (its own migration): <c>1.1</c> or <c>2</c>; rows from before it read <c>1.1</c>.</summary>
    public static UpstreamHttpVersion HttpVersion(string text) =>
        UpstreamHttpVersionConverter.TryParse(text, out var version) ? version : throw new InvalidDataException($"upstreams.http_version '{text}' is not one of {UpstreamHttpVersionConverter.Allowed}");

    /// <summary>Rows written before migration 5 hold <c>[]</c>: the upstream is then its <c>base_url</c> alone.</summary>
    public static IReadOnlyList<UpstreamTarget> Targets(string json, string baseUrl) =>
        JsonSerializer.Deserialize<List<UpstreamTarget>>(json, Json) is { Count: > 0 } targets ? targets : [new UpstreamTarget(baseUrl)];

    public static HealthCheckSettings HealthCheck(string json) =>
        JsonSerializer.Deserialize<HealthCheckSettings>(json, Json) ?? HealthCheckSettings.Default;
}
