using ApiGate.Core.Storage;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ApiGate.Gateway.Health;

/// <summary>
/// Readiness of the store: it answers a trivial query and is still the file at the configured path (not deleted, moved
/// or replaced under the running gateway; <see cref="IGatewayStore.CheckAsync"/>). Data: <c>state</c> (<c>ok</c>,
/// <c>unreachable</c>, <c>replaced</c>), <c>path</c>, and <c>reason</c> when not ok.
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

        return HealthCheckResult.Unhealthy(
            check.Reason, data: new Dictionary<string, object> { ["state"] = check.State, ["path"] = store.Location, ["reason"] = check.Reason });
    }
}
