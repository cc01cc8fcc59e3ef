using ApiGate.Core.Storage;
using Microsoft.Extensions.DependencyInjection;

using ApiGate.Gateway.Balancing;

namespace ApiGate.Gateway.Probing;

/// <summary>Registers the load-balancing runtime: target registry, active health checks, health publishing.</summary>
internal static class LoadBalancingServices
{
    public static IServiceCollection AddLoadBalancing(this IServiceCollection services)
    {
        // Health writes go through the store writer thread (see Persistence/StoreWriter).
        services.AddSingleton(sp => ActivatorUtilities.CreateInstance<TargetHealthReporter>(sp, (ITargetHealthStore)new Persistence.WriterTargetHealthStore(
            sp.GetRequiredService<IGatewayStore>(), sp.GetRequiredService<Persistence.StoreWriter>())));
        services.AddHostedService(sp => sp.GetRequiredService<TargetHealthReporter>());
        services.AddSingleton<TargetRegistry>();
        services.AddSingleton<HealthProber>();
        services.AddHostedService(sp => sp.GetRequiredService<HealthProber>());
        return services;
    }
}
