using ApiGate.Core.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ApiGate.Gateway.Health;

/// <summary>
/// Readiness of the store: it answers a trivial query and is still the file at the configured path (not deleted, moved
/// or replaced under the running gateway; <see cref="IGatewayStore.CheckAsync"/>). Data: <c>state</c> (<c>ok</c>,
/// <c>unreachable</c>, <c>replaced</c>, <c>down</c>), <c>path</c>, and <c>reason</c> when not ok. A database server that
/// does not answer (<see cref="StoreCheck.Down"/>, PostgreSQL) is <em>degraded</em>, not unhealthy: the gateway keeps
/// serving known keys from its snapshot and holds usage until the server is back, so a load balancer should keep it.
/// </summary>
internal sealed class StoreHealthCheck(IGatewayStore store) : IHealthCheck
{
    public const string Name = "store";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var check = await store.CheckAsync(cancellationToken);
        if (check.IsOk)
        {
            return HealthCheckResult.Healthy(data: new Dictionary<string, object> { ["state"] = check.State, ["path"] = store.Location });
        }

        var data = new Dictionary<string, object> { ["state"] = check.State, ["path"] = store.Location, ["reason"] = check.Reason };
        return check.State == StoreCheck.Down ? HealthCheckResult.Degraded(check.Reason, data: data) : HealthCheckResult.Unhealthy(check.Reason, data: data);
    }
}
