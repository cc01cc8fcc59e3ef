using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace ApiGate.Gateway.Health;

/// <summary>
/// Readiness while stopping: unhealthy from the moment a graceful stop begins (SIGTERM, Ctrl+C), so a load balancer
/// probing <c>/health/ready</c> takes the instance out while it still serves — through <c>server.stop_delay</c>, and on
/// the connections still open while requests drain. Reads a token; no I/O.
/// </summary>
internal sealed class StoppingHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public const string Name = "stopping";

    private static readonly Task<HealthCheckResult> Serving = Task.FromResult(HealthCheckResult.Healthy());
    private static readonly Task<HealthCheckResult> Stopping = Task.FromResult(HealthCheckResult.Unhealthy("stopping"));

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        lifetime.ApplicationStopping.IsCancellationRequested ? Stopping : Serving;
}
