using ApiGate.Core.Storage;
using ApiGate.Core.Webhooks;
using ApiGate.Gateway.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Gateway.Webhooks;

/// <summary>Registers the outgoing webhooks: the outbox publisher and the delivery worker.</summary>
internal static class WebhookServiceCollectionExtensions
{
    public static IServiceCollection AddWebhooks(this IServiceCollection services, GatewayOptions options)
    {
        services.AddSingleton<IWebhookStore>(sp => sp.GetRequiredService<IGatewayStore>());
        services.AddSingleton<WebhookSignal>();
        services.AddSingleton<IWebhookPublisher, OutboxWebhookPublisher>();
        services.AddSingleton<WebhookDeliveryWorker>();
        services.AddHostedService(sp => sp.GetRequiredService<WebhookDeliveryWorker>());
        return services;
    }
}
