using ApiGate.Gateway.Admin;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Portal;
using ApiGate.Web.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace ApiGate.Web.Portal;

/// <summary>
/// The customer portal at <c>/portal</c> on the public listener (docs/portal.md), on only with
/// <c>APIGATE_PORTAL_ENABLED=true</c>: Razor components rendered on the server, every change a form post with an
/// antiforgery token. The portal's services (accounts, plans, usage) live in the gateway (ApiGate.Gateway.Portal).
/// </summary>
internal sealed class PortalModule : IGatewayWebModule
{
    public void AddServices(IServiceCollection services, GatewayOptions options)
    {
        if (!options.PortalEnabled)
        {
            return;
        }

        WebPages.AddServices(services, pages =>
        {
            pages.AddSingleton<PortalSessions>();
            pages.AddSingleton<PortalSessionGate>();
        });
    }

    public IReadOnlyList<GatewayWebBranch> Build(IServiceProvider services, GatewayOptions options)
    {
        if (!options.PortalEnabled)
        {
            return [];
        }

        var portal = WebPages.Branch(services, branch => branch.Use(branch.ApplicationServices.GetRequiredService<PortalSessionGate>().InvokeAsync));
        return [new GatewayWebBranch(PortalOptions.BasePath, OnAdminSide: false, portal)];
    }
}
