using ApiGate.Gateway.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ApiGate.Gateway.Portal;

/// <summary>Registers the customer portal's services (docs/portal.md).</summary>
internal static class PortalServiceCollectionExtensions
{
    /// <summary>The portal's options, accounts, plans, login limiter, mail queue and link-request worker; the billing seam defaults to none.</summary>
    public static IServiceCollection AddPortal(this IServiceCollection services, GatewayOptions options)
    {
        services.AddSingleton(PortalOptions.From(options));
        if (!options.PortalEnabled)
        {
            return services;
        }

        services.TryAddSingleton<Identity.AttemptCounter>();
        services.AddSingleton(sp => new LoginLimiter(sp.GetRequiredService<Identity.AttemptCounter>()));
        services.AddSingleton<PortalMailQueue>();
        services.AddHostedService(sp => sp.GetRequiredService<PortalMailQueue>());
        services.AddSingleton<PortalLinkRequestQueue>();
        services.AddSingleton<PortalAccountService>();
        services.AddHostedService<PortalLinkRequestWorker>();
        services.AddSingleton<PortalPlanService>();
        services.AddSingleton<PortalUsage>();
        services.AddSingleton<PortalKeyService>();
        return services;
    }
}
