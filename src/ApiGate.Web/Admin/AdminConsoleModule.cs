using ApiGate.Gateway.Admin;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Hosting;
using ApiGate.Web.Shared;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace ApiGate.Web.Admin;

/// <summary>
/// The admin console at <see cref="BasePath"/>: Razor components rendered on the server (static rendering, no
/// circuits), with its own endpoint routing inside the branch so proxied requests never run it. Served where the
/// admin API is (<see cref="AdminListener"/>).
/// </summary>
internal sealed class AdminConsoleModule : IGatewayWebModule
{
    /// <summary>Where the console is served (reserved: the admin API's base path may not be there).</summary>
    public const string BasePath = AdminBasePath.ConsolePath;

    public void AddServices(IServiceCollection services, GatewayOptions options)
    {
        if (!options.AdminUiEnabled)
        {
            return;
        }

        services.TryAddSingleton<Gateway.Identity.AttemptCounter>(); // shared with the portal's login limiter
        WebPages.AddServices(services, pages =>
        {
            pages.AddSingleton<AdminSessions>();
            pages.AddSingleton<LoginThrottle>();
            pages.AddSingleton<AdminSessionGate>();
            pages.AddSingleton<DashboardData>();
            pages.AddSingleton<RouteTrial>();
            pages.AddSingleton<UsageExplorer>();
        });
    }

    public IReadOnlyList<GatewayWebBranch> Build(IServiceProvider services, GatewayOptions options)
    {
        if (!options.AdminUiEnabled)
        {
            return [];
        }

        var console = WebPages.Branch(services, branch => branch.Use(branch.ApplicationServices.GetRequiredService<AdminSessionGate>().InvokeAsync));
        return [new GatewayWebBranch(BasePath, OnAdminSide: true, console)];
    }
}
