using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
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
        // Before the data protection system's own hosted service (registered below, with Razor components): it loads
        // the key ring when it starts, and must find the key there rather than log that there is none.
        services.AddHostedService<StoredFormKeyStartup>();
        services.AddRazorComponents();
        // Sessions live in the store (StoredSessions), and so does the one key protecting antiforgery tokens, so any
        // instance sharing the store accepts a form another rendered. A fixed application name: instances installed in
        // different directories must derive the same protectors.
        services.AddDataProtection().SetApplicationName("apigate");
        services.AddSingleton<StoredFormKeyRepository>();
        services.AddOptions<KeyManagementOptions>().Configure<StoredFormKeyRepository>((o, repository) =>
        {
            o.XmlRepository = repository;
            o.AutoGenerateKeys = false; // StoredFormKeyStartup creates the one key; no instance makes one of its own
        });
        // The key manager warns that it has no XML encryptor; the store encrypts the key with APIGATE_SECRET_KEY
        // when it is set, as it does every stored secret (docs/scaling.md).
        services.Configure<LoggerFilterOptions>(o => o.AddFilter("Microsoft.AspNetCore.DataProtection.KeyManagement.XmlKeyManager", LogLevel.Error));
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
