using ApiGate.Core.Storage;
using ApiGate.Gateway.Identity;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ApiGate.Gateway.Health;

/// <summary>
/// Readiness of the store: it answers a trivial query and is still the file at the configured path (not deleted, moved
/// or replaced under the running gateway; <see cref="IGatewayStore.CheckAsync"/>). Data: <c>state</c> (<c>ok</c>,
/// <c>unreachable</c>, <c>replaced</c>, <c>down</c>, <c>read_only</c>, <c>full</c>, <c>locked</c>), <c>path</c>, and <c>reason</c> when not ok. A
/// database server that does not answer (<see cref="StoreCheck.Down"/>, PostgreSQL) or a store it can read but not
/// write (<see cref="StoreCheck.ReadOnly"/>, <see cref="StoreCheck.Full"/>, <see cref="StoreCheck.Locked"/>) is <em>degraded</em>, not unhealthy: the gateway keeps serving known keys
/// from its snapshot, so a load balancer should keep it; the reason says what to fix.
/// A database that hangs would hold the check for the driver's own timeouts (5 s to connect, 30 s for a command on
/// PostgreSQL), longer than a load balancer waits for an answer: the check waits at most
/// <see cref="StoreLookupGuard.MaxWait"/> and then reports the store down. One check runs at a time (a singleton); probes
/// arriving while it runs share it, so a hung database does not collect one stuck query per probe.
/// </summary>
internal sealed class StoreHealthCheck(IGatewayStore store) : IHealthCheck
{
    public const string Name = "store";

    private readonly Lock _lock = new();
    private Task<StoreCheck>? _running;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        Task<StoreCheck> running;
        lock (_lock)
        {
            running = _running is { IsCompleted: false } current ? current : _running = store.CheckAsync(CancellationToken.None);
        }

        StoreCheck check;
        try
        {
            check = await running.WaitAsync(StoreLookupGuard.MaxWait, cancellationToken);
        }
        catch (TimeoutException)
        {
            check = new StoreCheck(StoreCheck.Down,
                $"the store at {store.Location} does not answer (no reply within {StoreLookupGuard.MaxWait.TotalSeconds:0} s)");
        }

        if (check.IsOk)
        {
            return HealthCheckResult.Healthy(data: new Dictionary<string, object> { ["state"] = check.State, ["path"] = store.Location });
        }

        var data = new Dictionary<string, object> { ["state"] = check.State, ["path"] = store.Location, ["reason"] = check.Reason };
        return check.State is StoreCheck.Down or StoreCheck.ReadOnly or StoreCheck.Full or StoreCheck.Locked
            ? HealthCheckResult.Degraded(check.Reason, data: data)
            : HealthCheckResult.Unhealthy(check.Reason, data: data);
    }
}
