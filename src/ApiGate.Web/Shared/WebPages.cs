using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using MudBlazor.Services;

namespace ApiGate.Web.Shared;

/// <summary>
/// The Razor components pipeline shared by the admin console and the portal: static server rendering, antiforgery on
/// every form post, and endpoint routing of its own inside a branch.
/// </summary>
public static class WebPages
{
    /// <summary>Registers Razor components, antiforgery and MudBlazor once, whichever module asks first.</summary>
    public static void AddServices(IServiceCollection services)
    {
        if (services.Any(s => s.ServiceType == typeof(WebPagesMarker)))
        {
            return;
        }

        services.AddSingleton<WebPagesMarker>();
        services.AddRazorComponents();
        // Sessions are held in memory by the process that created them, so the keys protecting antiforgery tokens can
        // live there too: nothing is written to disk, and a restart ends sessions and tokens together.
        services.AddDataProtection().UseEphemeralDataProtectionProvider();
        services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "apigate_af";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.HttpOnly = true;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.FormFieldName = "__RequestVerificationToken";
        });
        services.AddMudServices();
    }

    /// <summary>Adds routing, antiforgery and the components' endpoints to a branch; unknown paths answer 404.</summary>
    public static void Map(IApplicationBuilder branch)
    {
        branch.UseRouting();
        branch.UseAntiforgery();
        branch.UseEndpoints(endpoints => endpoints.MapRazorComponents<App>());
        branch.Run(context =>
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
    }

    private sealed class WebPagesMarker;
}
