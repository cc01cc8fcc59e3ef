using System.Net;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Observability;
using ApiGate.Gateway.Reserved;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// The management listener (<c>APIGATE_ADMIN_LISTEN</c>). When set, Kestrel also listens there and that listener
/// serves only the admin API, <c>/metrics</c> and the health and version endpoints; the main port answers the admin
/// base path and <c>/metrics</c> with 404 and nothing else changes for it. Requests are told apart by the local port
/// they arrived on: one integer compare per proxied request. When not set, everything is served on the main port.
/// </summary>
internal sealed partial class AdminListener
{
    private readonly GatewayOptions _options;
    private readonly List<ListenOptions> _listeners = [];
    private readonly List<Admin.GatewayWebBranch> _branches = [];
    private readonly bool _tlsConfigured;
    private int _port;
    private bool _tls;

    public AdminListener(GatewayOptions options)
    {
        _options = options;
        _tlsConfigured = Tls.TlsSources.From(options) is { Enabled: true }; // as GatewayHost decides whether to serve TLS
        if (options.AdminListen.Length > 0)
        {
            if (!AdminListenAddress.TryParse(options.AdminListen, out var address, out var problem))
            {
                throw new ArgumentException("admin listen: " + problem);
            }

            Address = address;
            _port = address!.Port;
        }
    }

    /// <summary>Where the admin listener binds, or null when the admin API is served on the main port.</summary>
    public AdminListenAddress? Address { get; }

    /// <summary>The admin listener's URL with the bound port, once the server has started; null when there is none.</summary>
    public string? Url => Address is null ? null : Address.Url(
        _listeners.Count > 0 && _listeners[0].IPEndPoint is { Port: > 0 } bound ? bound.Port : Volatile.Read(ref _port), _tls ? "https" : "http");

    /// <summary>Adds the admin endpoint to Kestrel (after the main one, so the main address stays first).</summary>
    /// <param name="kestrel">The server's options.</param>
    /// <param name="tls">The certificates to serve TLS with (<c>APIGATE_ADMIN_TLS</c>), or null for plain HTTP.</param>
    public void Listen(KestrelServerOptions kestrel, Tls.TlsCertificates? tls = null)
    {
        if (Address is null)
        {
            return;
        }

        if (Address.Address is null)
        {
            kestrel.ListenLocalhost(Address.Port, Configure);
        }
        else
        {
            kestrel.Listen(Address.Address, Address.Port, Configure);
        }

        void Configure(ListenOptions listen)
        {
            _listeners.Add(listen);
            if (tls is not null)
            {
                _tls = true;
                tls.Serve(listen);
            }

            // With port 0 the real port is only known once bound; every connection reports it before its first request.
            listen.Use(next => connection =>
            {
                if (connection.LocalEndPoint is IPEndPoint local && Volatile.Read(ref _port) != local.Port)
                {
                    Volatile.Write(ref _port, local.Port);
                }

                return next(connection);
            });
        }
    }

    /// <summary>Web branches served where the admin API is (the admin console); call before <see cref="Map"/>.</summary>
    public void AddBranches(IEnumerable<Admin.GatewayWebBranch> branches) => _branches.AddRange(branches);

    /// <summary>
    /// Middleware that hands requests under the branch's base path to it and passes the others on. The base path is
    /// compared case-sensitively, as routes are (docs/routing.md): <c>/UI</c> is a path routes may serve.
    /// </summary>
    public static Func<RequestDelegate, RequestDelegate> Branch(Admin.GatewayWebBranch branch) =>
        next => context => context.Request.Path.StartsWithSegments(branch.BasePath, StringComparison.Ordinal) ? branch.Handler(context) : next(context);

    /// <summary>
    /// Middleware that hands requests under <paramref name="basePath"/> to <paramref name="handler"/> with the base path
    /// moved to <c>PathBase</c>, as <c>Map</c> does, but compared case-sensitively, as routes and the other reserved paths
    /// are: with <c>Map</c>, <c>/ADMIN/routes</c> reached the admin API while a route <c>/ADMIN/*</c> was accepted and
    /// never served. Other requests pass on without an allocation.
    /// </summary>
    internal static Func<RequestDelegate, RequestDelegate> Under(PathString basePath, RequestDelegate handler) =>
        next => context => context.Request.Path.StartsWithSegments(basePath, StringComparison.Ordinal, out var matched, out var remaining)
            ? InvokeUnderAsync(context, matched, remaining, handler)
            : next(context);

    private static async Task InvokeUnderAsync(HttpContext context, PathString matched, PathString remaining, RequestDelegate handler)
    {
        var path = context.Request.Path;
        var pathBase = context.Request.PathBase;
        context.Request.PathBase = pathBase.Add(matched);
        context.Request.Path = remaining;
        try
        {
            await handler(context);
        }
        finally
        {
            context.Request.PathBase = pathBase;
            context.Request.Path = path;
        }
    }

    /// <summary>
    /// Serves the admin API at the base path: on the main port when there is no admin listener; otherwise only on the
    /// admin listener, while the main port answers the base path with 404 (still reserved: no route shadows it).
    /// Must run before the proxy pipeline is added.
    /// </summary>
    public void Map(WebApplication app, RequestDelegate adminApi)
    {
        var logger = app.Services.GetRequiredService<ILogger<AdminListener>>();
        var metrics = _options.MetricsEnabled ? "/metrics" : "no /metrics (metrics disabled)";
        app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(() =>
        {
            if (Url is { } url)
            {
                LogSeparate(logger, _options.AdminBasePath, metrics, url);
                WarnIfInClear(logger, Address!, url, _tlsConfigured, _options.AdminTls);
            }
            else
            {
                LogShared(logger, _options.AdminBasePath, metrics);
                var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
                WarnIfMainPortInClear(logger, _options, _tlsConfigured, addresses);
            }
        });

        if (Address is null)
        {
            app.Use(Under(_options.AdminBasePath, adminApi));
            foreach (var web in _branches)
            {
                app.Use(Branch(web));
            }

            return;
        }

        var reserved = app.Services.GetRequiredService<ReservedEndpoints>();
        var scrape = app.Services.GetRequiredService<MetricsEndpoint>().ScrapeHandler is { } scrapeHandler ? ReservedEndpoints.ReadOnly(scrapeHandler) : null;
        var management = new ApplicationBuilder(app.Services);
        management.Use(Under(_options.AdminBasePath, adminApi));
        foreach (var web in _branches)
        {
            management.Use(Branch(web));
        }

        management.Run(context =>
        {
            var path = context.Request.Path.Value ?? "";
            var handler = path == "/metrics" ? scrape : reserved.TryGetHandler(path);
            return handler is null ? NotFoundAsync(context) : handler(context);
        });
        var serveManagement = management.Build();

        app.Use(next => context => context.Connection.LocalPort == _port ? serveManagement(context) : next(context));
        app.Use(Under(_options.AdminBasePath, NotFoundAsync));
    }

    /// <summary>
    /// What to change so that admin tokens and the console's session cookie do not cross a network in clear, when the
    /// admin listener at <paramref name="address"/> serves plain HTTP on an address other than loopback; null when it
    /// serves TLS, or is bound to loopback (127.0.0.0/8, <c>::1</c>, <c>localhost</c>), which no other machine reaches.
    /// </summary>
    /// <param name="address">Where the admin listener binds (<c>admin.listen</c>).</param>
    /// <param name="tlsConfigured">Whether the gateway has certificates (<c>tls.cert_file</c> and <c>tls.key_file</c>, or <c>tls.cert_dir</c>).</param>
    /// <param name="adminTls"><c>admin.tls</c>: whether the admin listener serves TLS when the gateway has certificates.</param>
    internal static string? ClearTextRemedy(AdminListenAddress address, bool tlsConfigured, bool adminTls) =>
        address.IsLoopback || (tlsConfigured && adminTls) ? null
        : tlsConfigured ? "set admin.tls (APIGATE_ADMIN_TLS) to true"
        : "turn TLS on (tls.cert_file and tls.key_file, or tls.cert_dir: APIGATE_TLS_CERT_FILE, APIGATE_TLS_KEY_FILE, APIGATE_TLS_CERT_DIR)";

    /// <summary>Logs event 7032 once the admin listener at <paramref name="url"/> is bound, when <see cref="ClearTextRemedy"/> says it serves in clear.</summary>
    internal static void WarnIfInClear(ILogger logger, AdminListenAddress address, string url, bool tlsConfigured, bool adminTls)
    {
        if (ClearTextRemedy(address, tlsConfigured, adminTls) is { } remedy)
        {
            LogInClear(logger, url, remedy);
        }
    }

    /// <summary>
    /// What to change so that admin tokens and the console's session cookie do not cross a network in clear, when the
    /// admin API is served on the main port (no <c>admin.listen</c>) and a port of the main listener serves plain HTTP
    /// on an address other than loopback: the main port without certificates, or the h2c port (<c>server.h2c_port</c>),
    /// which is always plain HTTP and serves what the main port serves. Null when <paramref name="host"/> is loopback
    /// (127.0.0.0/8, <c>::1</c>, <c>localhost</c>), or when the main port serves TLS and there is no h2c port.
    /// </summary>
    /// <param name="host"><c>server.host</c>: where the main port (and the h2c port) bind.</param>
    /// <param name="tlsConfigured">Whether the gateway has certificates, so the main port serves TLS.</param>
    /// <param name="h2cPort">Whether <c>server.h2c_port</c> is set.</param>
    internal static string? MainPortClearTextRemedy(string host, bool tlsConfigured, bool h2cPort) =>
        IsLoopbackHost(host) || (tlsConfigured && !h2cPort) ? null
        : "serve it on a listener of its own with admin.listen (APIGATE_ADMIN_LISTEN), e.g. 127.0.0.1:9091, which the main port then answers with 404"
            + (tlsConfigured
                ? ", or unset server.h2c_port (APIGATE_SERVER_H2C_PORT), whose port serves it in plain HTTP whatever TLS does"
                : ", or turn TLS on (tls.cert_file and tls.key_file, or tls.cert_dir: APIGATE_TLS_CERT_FILE, APIGATE_TLS_KEY_FILE, APIGATE_TLS_CERT_DIR)")
            + ", or bind server.host (APIGATE_SERVER_HOST) to 127.0.0.1 or ::1";

    /// <summary>
    /// Logs event 7033 once the server is bound, when <see cref="MainPortClearTextRemedy"/> says the admin API is served
    /// in clear on the main listener, naming its plain-HTTP addresses out of <paramref name="addresses"/> (the server's,
    /// the main port's first, then the h2c port's, as <c>GatewayHost.Addresses</c> lists them).
    /// </summary>
    internal static void WarnIfMainPortInClear(ILogger logger, GatewayOptions options, bool tlsConfigured, IReadOnlyList<string> addresses)
    {
        if (options.AdminListen.Length > 0 || MainPortClearTextRemedy(options.Host, tlsConfigured, options.H2cPort is not null) is not { } remedy)
        {
            return;
        }

        // With TLS only the h2c port's address is plain; without it the main port's, and the h2c port's after it.
        var plain = addresses.Skip(tlsConfigured ? 1 : 0).Take(tlsConfigured ? 1 : options.H2cPort is null ? 1 : 2);
        LogMainPortInClear(logger, options.AdminBasePath, string.Join(" and ", plain), remedy);
    }

    /// <summary>Whether <c>server.host</c> binds only addresses no other machine reaches.</summary>
    private static bool IsLoopbackHost(string host) =>
        host.Equals("localhost", StringComparison.OrdinalIgnoreCase)
        || (IPAddress.TryParse(host.Trim('[', ']'), out var address) && AdminListenAddress.IsLoopbackAddress(address));

    private static Task NotFoundAsync(HttpContext context) => GatewayErrorWriter.WriteAsync(context, GatewayError.NotFound).AsTask();

    [LoggerMessage(EventId = 7030, Level = LogLevel.Information,
        Message = "Admin API at {BasePath} and {Metrics} served only on the admin listener {AdminUrl}; the main port answers them with 404")]
    private static partial void LogSeparate(ILogger logger, string basePath, string metrics, string adminUrl);

    [LoggerMessage(EventId = 7031, Level = LogLevel.Information,
        Message = "Admin API at {BasePath} and {Metrics} served on the main port (set APIGATE_ADMIN_LISTEN to move them to a management address)")]
    private static partial void LogShared(ILogger logger, string basePath, string metrics);

    [LoggerMessage(EventId = 7032, Level = LogLevel.Warning,
        Message = "The admin listener {AdminUrl} serves plain HTTP on an address other than loopback: admin tokens and the console's session cookie " +
            "cross the network in clear; {Remedy}, or bind admin.listen (APIGATE_ADMIN_LISTEN) to 127.0.0.1 or [::1]")]
    private static partial void LogInClear(ILogger logger, string adminUrl, string remedy);

    [LoggerMessage(EventId = 7033, Level = LogLevel.Warning,
        Message = "The admin API at {BasePath} is served on the main port, in plain HTTP at {Urls} on an address other than loopback: admin tokens " +
            "and the console's session cookie cross the network in clear; {Remedy}")]
    private static partial void LogMainPortInClear(ILogger logger, string basePath, string urls, string remedy);
}
