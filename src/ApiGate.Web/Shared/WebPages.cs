using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MudBlazor.Services;

namespace ApiGate.Web.Shared;

/// <summary>
/// The Razor components pipeline shared by the admin console and the portal: static server rendering, antiforgery on
/// every form post, and endpoint routing of its own inside a branch.
/// </summary>
/// <remarks>
/// The pages run in a service container of their own, built on the first request to a page
/// (<see cref="WebPagesContainer"/>): a gateway whose console and portal are on but not visited never loads the
/// component framework, MudBlazor or the data protection key ring (about 8 MiB resident, docs/performance.md).
/// </remarks>
public static class WebPages
{
    /// <summary>
    /// Registers the pages' container in the gateway's services (once, whichever module asks first) and adds a
    /// module's own page services to it; <paramref name="pageServices"/> runs when the container is built.
    /// </summary>
    public static void AddServices(IServiceCollection services, Action<IServiceCollection> pageServices)
    {
        var container = services
            .Where(s => s.ServiceType == typeof(WebPagesContainer) && !s.IsKeyedService)
            .Select(s => s.ImplementationInstance)
            .OfType<WebPagesContainer>()
            .FirstOrDefault();
        if (container is null)
        {
            container = new WebPagesContainer(services);
            services.AddSingleton(container);
            services.AddHostedService<StoredFormKeyCheck>();
            // The key manager warns that it has no XML encryptor; the store encrypts the key with APIGATE_SECRET_KEY
            // when it is set, as it does every stored secret (docs/scaling.md). The pages log through the gateway's
            // logger factory, so the filter is the gateway's.
            services.Configure<LoggerFilterOptions>(o => o.AddFilter("Microsoft.AspNetCore.DataProtection.KeyManagement.XmlKeyManager", LogLevel.Error));
            // The antiforgery service logs a client's bad token — a missing field, a cookie that does not decrypt (any
            // visitor can send one with every request) — as warnings and errors with a stack trace. A refused form is
            // answered with a page of its own (PageFailures) and a bad cookie is replaced: the client's error, which the
            // pages never log as the gateway's.
            services.Configure<LoggerFilterOptions>(o => o.AddFilter("Microsoft.AspNetCore.Antiforgery.DefaultAntiforgery", LogLevel.None));
        }

        container.Add(pageServices);
    }

    /// <summary>
    /// A branch serving the pages: on its first request the pages' container and the branch's pipeline (built by
    /// <paramref name="configure"/>, then routing, antiforgery and the components' endpoints) are made; every request
    /// runs with a scope of the pages' container as its services.
    /// </summary>
    public static RequestDelegate Branch(IServiceProvider gateway, Action<IApplicationBuilder> configure) =>
        gateway.GetRequiredService<WebPagesContainer>().Branch(gateway, branch =>
        {
            configure(branch);
            Map(branch);
        });

    /// <summary>The framework services the pages need: Razor components, antiforgery, data protection, MudBlazor.</summary>
    internal static void AddFrameworkServices(IServiceCollection services)
    {
        // Routing of their own: the pages' endpoints are not added to the gateway's endpoint collection.
        services.AddSingleton<ICollection<EndpointDataSource>>(new System.Collections.ObjectModel.ObservableCollection<EndpointDataSource>());
        services.AddRouting();
        services.AddRazorComponents();
        // Sessions live in the store (StoredSessions), and so does the one key protecting antiforgery tokens, so any
        // instance sharing the store accepts a form another rendered. A fixed application name: instances installed in
        // different directories must derive the same protectors.
        services.AddDataProtection().SetApplicationName("apigate");
        services.AddSingleton<StoredFormKeyRepository>();
        services.AddOptions<KeyManagementOptions>().Configure<StoredFormKeyRepository>((o, repository) =>
        {
            o.XmlRepository = repository;
            o.AutoGenerateKeys = false; // StoredFormKey.Ensure creates the one key; no instance makes one of its own
        });
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

    /// <summary>Set on a request no page of the branch answers (<see cref="PageFailures.AfterNoPageAsync"/>).</summary>
    internal static readonly object NoPageItem = new();

    /// <summary>Adds routing, antiforgery and the components' endpoints to a branch; unknown paths answer 404.</summary>
    private static void Map(IApplicationBuilder branch)
    {
        branch.UseRouting();
        branch.UseAntiforgery();
        branch.UseEndpoints(endpoints => endpoints.MapRazorComponents<App>().Add(page =>
        {
            // HEAD as GET (an uptime check of a login page): the server sends the headers and leaves the body out.
            for (var i = 0; i < page.Metadata.Count; i++)
            {
                if (page.Metadata[i] is HttpMethodMetadata { HttpMethods: var methods } && methods.Contains(HttpMethods.Get) && !methods.Contains(HttpMethods.Head))
                {
                    page.Metadata[i] = new HttpMethodMetadata([.. methods, HttpMethods.Head]);
                }
            }
        }));
        branch.Run(context =>
        {
            // The gate answers it with a page of its own (PageFailures.AfterNoPageAsync): it knows the application's root.
            context.Items[NoPageItem] = true;
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
    }
}

/// <summary>
/// The pages' own service container, built once on the first request to a page. It holds the framework's services
/// and the modules' page services; every other service a page or a gate asks for is the gateway's own instance
/// (the store, the clock, the identity and config services), resolved from the gateway's container when first asked.
/// </summary>
/// <remarks>
/// Only the gateway's singletons are reachable from the pages, each as the gateway resolves it (a service the gateway
/// registers several times is seen once, as its last registration). The container is never disposed: the gateway's
/// instances it hands out belong to the gateway, which disposes them. A build that fails (the store unreachable, the
/// forms key unusable) is logged once and answered with 503 for <see cref="RetryAfter"/>; the page after that tries
/// again. Requests arriving during a build wait for it and share its outcome.
/// </remarks>
internal sealed partial class WebPagesContainer(IServiceCollection gatewayServices)
{
    /// <summary>How long a failed start is answered from memory before the next page tries again.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    /// <summary>Services the gateway decides even where the framework registers its own: one clock, one log, one host.</summary>
    private static readonly Type[] GatewayWins =
    [
        typeof(TimeProvider), typeof(ILoggerFactory), typeof(IConfiguration), typeof(IHostEnvironment),
        typeof(IWebHostEnvironment), typeof(IHostApplicationLifetime), typeof(System.Diagnostics.DiagnosticListener),
        typeof(System.Diagnostics.DiagnosticSource),
    ];

    private readonly List<Action<IServiceCollection>> _pageServices = [];
    private readonly SemaphoreSlim _building = new(1, 1);
    private IServiceProvider? _pages;
    private DateTimeOffset _failedUntil;

    /// <summary>Containers built so far (one, once pages have been served); for tests.</summary>
    public int Builds { get; private set; }

    /// <summary>The pages' services once the container is built (a page has been served), else null; for tests.</summary>
    public IServiceProvider? Services => _pages;

    public void Add(Action<IServiceCollection> pageServices) => _pageServices.Add(pageServices);

    public RequestDelegate Branch(IServiceProvider gateway, Action<IApplicationBuilder> configure)
    {
        var branch = new PageBranch(configure);
        return async context =>
        {
            if (Volatile.Read(ref branch.Pipeline) is null && !await StartAsync(gateway, branch, context.RequestAborted))
            {
                await WriteUnavailableAsync(context);
                return;
            }

            var gatewayFeature = context.Features.Get<IServiceProvidersFeature>();
            await using var scope = _pages!.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope();
            context.Features.Set<IServiceProvidersFeature>(new RequestServicesFeature(scope.ServiceProvider));
            try
            {
                await branch.Pipeline!(context);
            }
            finally
            {
                context.Features.Set(gatewayFeature);
            }
        };
    }

    /// <summary>
    /// Builds the container (once) and the branch's pipeline, one caller at a time; false while a failed start is
    /// remembered (the failure is logged when it happens, not for every page that sees it).
    /// </summary>
    private async Task<bool> StartAsync(IServiceProvider gateway, PageBranch branch, CancellationToken cancellationToken)
    {
        await _building.WaitAsync(cancellationToken);
        try
        {
            if (branch.Pipeline is not null)
            {
                return true;
            }

            var clock = gateway.GetRequiredService<TimeProvider>();
            if (clock.GetUtcNow() < _failedUntil)
            {
                return false;
            }

            try
            {
                if (_pages is null)
                {
                    var pages = Compose(gateway).BuildServiceProvider();
                    // The key manager's store access is synchronous: off the request's thread, and the key ring loaded
                    // here rather than by the first page's antiforgery token, inside the page renderer.
                    await Task.Run(() => StoredFormKey.Ensure(pages.GetRequiredService<IKeyManager>(), pages.GetRequiredService<IDataProtectionProvider>()), cancellationToken);
                    _pages = pages;
                    Builds++;
                }

                var builder = new ApplicationBuilder(_pages);
                branch.Configure(builder);
                Volatile.Write(ref branch.Pipeline, builder.Build());
                return true;
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                _failedUntil = clock.GetUtcNow() + RetryAfter;
                LogUnavailable(gateway.GetRequiredService<ILogger<WebPagesContainer>>(), ex.Message, ex);
                return false;
            }
        }
        finally
        {
            _building.Release();
        }
    }

    private ServiceCollection Compose(IServiceProvider gateway)
    {
        var pages = new ServiceCollection();
        pages.AddLogging(); // ILogger<T> of its own, over the gateway's logger factory (below)
        WebPages.AddFrameworkServices(pages);
        foreach (var add in _pageServices)
        {
            add(pages);
        }

        foreach (var type in GatewayWins)
        {
            pages.RemoveAll(type);
        }

        var own = pages.Select(s => s.ServiceType).ToHashSet();
        var forwarded = gatewayServices
            .Where(s => s.Lifetime == ServiceLifetime.Singleton && !s.IsKeyedService && !s.ServiceType.IsGenericTypeDefinition && !own.Contains(s.ServiceType))
            .Select(s => s.ServiceType)
            .Distinct();
        foreach (var type in forwarded)
        {
            pages.AddSingleton(type, _ => gateway.GetRequiredService(type));
        }

        return pages;
    }

    private static Task WriteUnavailableAsync(HttpContext context)
    {
        BrowserTls.Apply(context); // HSTS on this page too, behind a trusted proxy that ended TLS
        SecurityHeaders.Apply(context.Response);
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = ((int)RetryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        context.Response.ContentType = "text/html; charset=utf-8";
        return context.Response.WriteAsync(
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Unavailable</title></head><body>"
            + "<h1>This page could not be shown</h1><p id=\"pages-unavailable\">The pages could not be started. Please try again in a moment; "
            + "the gateway's log has the details (event 7102).</p></body></html>");
    }

    [LoggerMessage(EventId = 7102, Level = LogLevel.Error, Message = "The console and portal pages could not be started: {Reason}")]
    private static partial void LogUnavailable(ILogger logger, string reason, Exception exception);

    /// <summary>One branch (the console, the portal): how its pipeline is made, and the pipeline once made.</summary>
    private sealed class PageBranch(Action<IApplicationBuilder> configure)
    {
        public readonly Action<IApplicationBuilder> Configure = configure;
        public RequestDelegate? Pipeline;
    }

    private sealed class RequestServicesFeature(IServiceProvider services) : IServiceProvidersFeature
    {
        public IServiceProvider RequestServices { get; set; } = services;
    }
}
