using ApiGate.Gateway.Snapshots;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ApiGate.Gateway.Health;

/// <summary>
/// Readiness of the config: a snapshot of routes, upstreams and keys has been compiled and is being served (before the
/// first one, proxied requests get <c>503 not_ready</c>). Reads a field; no I/O. Data: <c>version</c> (0 when none).
/// </summary>
internal sealed class ConfigSnapshotHealthCheck(SnapshotManager snapshots) : IHealthCheck
{
    public const string Name = "config";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var snapshot = snapshots.Current;
        var data = new Dictionary<string, object> { ["version"] = snapshot?.Version ?? 0L };
        return Task.FromResult(snapshot is null
            ? HealthCheckResult.Unhealthy("no config snapshot loaded yet", data: data)
            : HealthCheckResult.Healthy(data: data));
    }
}
