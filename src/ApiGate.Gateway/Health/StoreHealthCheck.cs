using ApiGate.Core.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ApiGate.Gateway.Health;

/// <summary>
/// Readiness of the store: it answers a trivial query and is still the file at the configured path (not deleted, moved
/// or replaced under the running gateway; <see cref="IGatewayStore.CheckAsync"/>). Data: <c>state</c> (<c>ok</c>,
/// <c>unreachable</c>, <c>replaced</c>, <c>down</c>, <c>read_only</c>), <c>path</c>, and <c>reason</c> when not ok. A
/// database server that does not answer (<see cref="StoreCheck.Down"/>, PostgreSQL) or a store it can read but not
/// write (<see cref="StoreCheck.ReadOnly"/>) is <em>degraded</em>, not unhealthy: the gateway keeps serving known keys
/// from its snapshot, so a load balancer should keep it; the reason says what to fix.
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
        return check.State is StoreCheck.Down or StoreCheck.ReadOnly
            ? HealthCheckResult.Degraded(check.Reason, data: data)
            : HealthCheckResult.Unhealthy(check.Reason, data: data);
    }
}
