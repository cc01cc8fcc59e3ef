using System.Text.Json;
using System.Text.Json.Serialization;
using ApiGate.Core.Text;
using ApiGate.Core.Upstreams;
using Microsoft.Data.Sqlite;

namespace ApiGate.Storage.Sqlite;

/// <summary>The load-balancing columns of <c>upstreams</c> (migration 5): targets and health checks as JSON text.</summary>
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
    }

    /// <summary>Rows written before migration 5 hold <c>[]</c>: the upstream is then its <c>base_url</c> alone.</summary>
    public static IReadOnlyList<UpstreamTarget> Targets(string json, string baseUrl) =>
        JsonSerializer.Deserialize<List<UpstreamTarget>>(json, Json) is { Count: > 0 } targets ? targets : [new UpstreamTarget(baseUrl)];

    public static HealthCheckSettings HealthCheck(string json) =>
        JsonSerializer.Deserialize<HealthCheckSettings>(json, Json) ?? HealthCheckSettings.Default;
}
