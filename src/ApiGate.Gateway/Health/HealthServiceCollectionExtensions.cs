using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Health;

/// <summary>Registers the readiness checks and <c>/health/ready</c> (docs/observability.md).</summary>
internal static class HealthServiceCollectionExtensions
{
    public static IServiceCollection AddGatewayHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<StoreHealthCheck>(StoreHealthCheck.Name, tags: [ReadinessEndpoint.Tag])
            .AddCheck<ConfigSnapshotHealthCheck>(ConfigSnapshotHealthCheck.Name, tags: [ReadinessEndpoint.Tag]);
        services.AddSingleton<ReadinessEndpoint>();
        return services;
    }
}
