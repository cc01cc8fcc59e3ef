using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Health;

/// <summary>Registers the readiness checks and <c>/health/ready</c> (docs/observability.md).</summary>
internal static class HealthServiceCollectionExtensions
{
    public static IServiceCollection AddGatewayHealthChecks(this IServiceCollection services, bool sharedLimits = false)
    {
        // One instance (AddCheck resolves it from the container): probes share the check in flight.
        services.AddSingleton<StoreHealthCheck>();
        var checks = services.AddHealthChecks()
            .AddCheck<StoreHealthCheck>(StoreHealthCheck.Name, tags: [ReadinessEndpoint.Tag])
            .AddCheck<ConfigSnapshotHealthCheck>(ConfigSnapshotHealthCheck.Name, tags: [ReadinessEndpoint.Tag])
            .AddCheck<StoppingHealthCheck>(StoppingHealthCheck.Name, tags: [ReadinessEndpoint.Tag]);
        if (sharedLimits)
        {
            checks.AddCheck<LimitsHealthCheck>(LimitsHealthCheck.Name, tags: [ReadinessEndpoint.Tag]);
        }
        services.AddSingleton<ReadinessEndpoint>();
        return services;
    }
}
