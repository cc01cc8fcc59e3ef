using System.Net;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Admin;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Billing;
using ApiGate.Gateway.Probing;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Forwarding;
using ApiGate.Gateway.Health;
using ApiGate.Gateway.Identity;
using ApiGate.Gateway.Limits;
using ApiGate.Gateway.Memory;
using ApiGate.Gateway.Observability;
using ApiGate.Gateway.Persistence;
using ApiGate.Gateway.Pipeline;
using ApiGate.Gateway.Portal;
using ApiGate.Gateway.Reserved;
using ApiGate.Gateway.Snapshots;
using ApiGate.Gateway.Tls;
using ApiGate.Gateway.Transforms;
using ApiGate.Gateway.Usage;
using ApiGate.Gateway.Webhooks;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Hosting;

/// <summary>Builds and starts the gateway web server: Kestrel, the snapshot manager and the request pipeline.</summary>
public static class GatewayHost
{
    private const string InlineCompletionsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>How long a stopping gateway keeps trying to write the last usage events and last-use times.</summary>
    public static readonly TimeSpan FinalWriteTimeout = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Process-wide settings a serving process runs with, unless it chose them itself: on a SQLite store, socket
    /// completions run inline on the socket threads (<c>DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1</c>, ~8 µs of CPU
    /// less per request, measured). That needs every socket wait of the process to be asynchronous: one synchronous
    /// wait on a socket thread for bytes only that thread delivers stops every socket of the process. Not on
    /// PostgreSQL: the stores read rows without synchronous reads (<c>SqlGatewayStore.ReadRowsAsync</c>), but the
    /// driver still waits synchronously in places of its own — a cancelled command's cancel request is sent and
    /// awaited synchronously on the thread that reads the next reply, which with inline completions stopped two
    /// gateways for ~10 s each time a paused database resumed under load. The runtime reads the setting once, at the
    /// process's first socket, so <c>serve</c> and <c>demo</c> call this as soon as their settings are resolved, before
    /// they probe their port or open a store; <see cref="Build"/> calls it too, for hosts that open no socket before.
    /// CLI commands never enable it.
    /// </summary>
    public static void PrepareProcess(string databaseDriver)
    {
        if (Environment.GetEnvironmentVariable(InlineCompletionsVariable) is null && databaseDriver == ApiGate.Storage.GatewayStores.Sqlite)
        {
            Environment.SetEnvironmentVariable(InlineCompletionsVariable, "1");
        }
    }

    /// <summary>Builds the server. The store must outlive it; call <see cref="StartAsync"/> to serve.</summary>
    /// <param name="options">The resolved options; checked by <see cref="GatewayOptionsValidator"/> before anything is built.</param>
    /// <param name="store">The store; must outlive the server.</param>
    /// <param name="timeProvider">The clock; the system clock when null.</param>
    /// <param name="settings">The configuration <paramref name="options"/> were resolved from (<see cref="GatewaySettings.Resolve"/>),
    /// so problems name where a value came from; null for options built in code.</param>
    /// <param name="webModules">Web applications served beside the admin API (the admin console, the portal); none when null.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message names every bad setting.</exception>
    public static WebApplication Build(
        GatewayOptions options, IGatewayStore store, TimeProvider? timeProvider = null, IConfiguration? settings = null, IReadOnlyList<IGatewayWebModule>? webModules = null) =>
        Build(options, store, timeProvider, replaceServices: null, settings, webModules);

    /// <summary>The same, with registrations that replace the gateway's own (tests: e.g. <see cref="UpstreamTlsTrust"/>).</summary>
    internal static WebApplication Build(
        GatewayOptions options, IGatewayStore store, TimeProvider? timeProvider, Action<IServiceCollection>? replaceServices, IConfiguration? settings = null,
        IReadOnlyList<IGatewayWebModule>? webModules = null)
    {
        // Checked here, before Kestrel's endpoints, the logging providers and the admin listener are set up from them.
        new GatewayOptionsValidator(settings).ThrowIfInvalid(options);
        PrepareProcess(options.DatabaseDriver);

        // A bare LF ending a header line lets two HTTP parsers disagree on where a header ends (header injection,
        // smuggling past a stricter proxy in front); only CRLF is accepted. Read by Kestrel when it starts parsing.
        AppContext.SetSwitch("Microsoft.AspNetCore.Server.Kestrel.DisableHttp1LineFeedTerminators", true);

        var adminListener = new AdminListener(options);
        var clock = timeProvider ?? TimeProvider.System;
        var tlsWarnings = new List<string>();
        var tls = CreateTls(options, clock, tlsWarnings);
        Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions? mainListen = null;
        var redirect = tls is not null && AdminListenAddress.TryParse(options.TlsRedirectListen, out var redirectAt, out _)
            ? new HttpsRedirectListener(redirectAt!, () => options.TlsRedirectPort ?? (mainListen?.IPEndPoint is { Port: > 0 } bound ? bound.Port : options.Port))
            : null;
        Proxies.TrustedProxies.TryParse(options.TrustedProxies, out var trustedProxies, out _);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = null; // bodies are streamed to the upstream, not held
            // Counted per listener by Kestrel. An upgraded connection (a WebSocket) leaves that count for one of its own,
            // across the server, which Kestrel leaves unlimited: bounded by the same value, so holding sockets open is no
            // way around the limit.
            kestrel.Limits.MaxConcurrentConnections = options.MaxConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = options.MaxConnections;
            Listen(kestrel, options.Host, options.Port, listen =>
            {
                mainListen = listen;
                if (tls is not null)
                {
                    // HTTP/1.1 and HTTP/2, chosen per connection by ALPN.
                    listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1AndHttp2;
                    tls.Serve(listen);
                }
            });
            if (options.H2cPort is { } h2cPort)
            {
                // Prior-knowledge HTTP/2 needs a port that expects nothing else: on an HTTP/1.1 + HTTP/2 cleartext port,
                // Kestrel answers the HTTP/2 preface with HTTP_1_1_REQUIRED.
                Listen(kestrel, options.Host, h2cPort, listen => listen.Protocols = Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http2);
            }
            adminListener.Listen(kestrel, options.AdminTls ? tls : null); // after the main endpoint: Addresses(app) lists the main address first
            redirect?.Listen(kestrel);
        });

        builder.WebHost.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = options.InlineScheduling);
        ConfigureLogging(builder.Logging, options);

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(new SettingSources(settings));
        if (settings is IConfigurationRoot sources)
        {
            // Changes to the stored settings from the admin API and the console, checked against this process's own
            // flags, environment and config file as `apigate config set` checks them where it runs.
            services.AddSingleton(new StoredSettingsEditor(store, sources, GatewayOptionsSetup.Resolve, clock));
        }

        services.AddSingleton(adminListener);
        services.AddSingleton(store);
        services.AddSingleton(clock);
        if (tls is not null)
        {
            services.AddSingleton(tls);
            services.AddSingleton(sp =>
            {
                var snapshots = sp.GetRequiredService<SnapshotManager>();
                var watcher = new TlsCertificateWatcher(
                    tls, options, clock, sp.GetRequiredService<ILogger<TlsCertificateWatcher>>(),
                    () => snapshots.Current?.Routes.Routes.Select(route => route.Definition) ?? []);
                watcher.StartWarnings.AddRange(tlsWarnings);
                return watcher;
            });
            services.AddHostedService(sp => sp.GetRequiredService<TlsCertificateWatcher>());
        }

        services.AddSingleton<ResponseBodyTransformer>();
        services.AddSingleton<TimeoutSources>();
        services.AddSingleton<OpenStreams>();
        services.Configure<HostOptions>(host => host.ShutdownTimeout = options.ShutdownTimeout);
        services.AddSingleton(sp => new GatewayEnvironment(
            sp.GetRequiredService<TimeProvider>(),
            options.TransformEnvAllow.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            options.AuthKeyPrefix,
            options.AuthAllowQueryKey));
        services.AddSingleton(UpstreamTlsTrust.SystemRoots);
        services.AddSingleton<UpstreamClientPool>();
        services.AddLoadBalancing();
        services.AddSingleton<SnapshotBuilder>();
        services.AddSingleton<SnapshotManager>();
        services.AddHostedService(sp => sp.GetRequiredService<SnapshotManager>());
        services.AddHostedService<ConfigChangeListener>();
        services.AddSingleton<IdleMemoryTrimmer>();
        services.AddHostedService(sp => sp.GetRequiredService<IdleMemoryTrimmer>());
        services.AddGatewayHealthChecks(sharedLimits: options.RedisUrl.Length > 0);
        services.AddSingleton<ReservedEndpoints>();
        services.AddSingleton<StoreLookupGuard>();
        services.AddSingleton<ApiKeyAuthenticator>();
        services.AddSingleton<KeyUsageTracker>();
        services.AddSingleton<InProcessRateLimiter>();
        services.AddSingleton<QuotaCounters>();
        if (options.RedisUrl.Length > 0)
        {
            services.AddSingleton<QuotaSeeds>();
            services.AddSingleton<RedisAdmission>();
            services.AddSingleton<LimitsMetrics>();
            services.AddSingleton<IAdmission>(sp => sp.GetRequiredService<RedisAdmission>());
        }
        else
        {
            services.AddSingleton<IAdmission, InProcessAdmission>();
        }

        services.AddSingleton<IQuotaStore>(store);
        services.AddSingleton<IRedisHandoverStore>(store);
        services.AddSingleton<IIdentityStore>(store);
        services.AddSingleton<StoreMetrics>();
        services.AddSingleton<StoreWriter>();
        services.AddSingleton<UsageFlusher>();
        services.AddSingleton<UsageMetrics>();
        services.AddSingleton(sp => new UsageRecorder(
            sp.GetRequiredService<IGatewayStore>(), sp.GetRequiredService<StoreWriter>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<UsageRecorder>>(), options.UsageQueueCapacity, options.UsageRawEventsMode,
            options.UsageExport.Length == 0 ? null : new UsageExport(options.UsageExport, options.UsageExportMaxBytes)));
        services.AddSingleton(new UsageRetention(options.UsageRetention, options.UsageRollupRetention, options.UsageHourlyRetention, options.UsageCompactAfter));
        services.AddSingleton(sp => new UsageMaintenance(
            sp.GetRequiredService<IGatewayStore>(), sp.GetRequiredService<StoreWriter>(), sp.GetRequiredService<UsageRetention>(),
            sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<UsageMaintenance>>()));

        // The row of steps (docs/architecture.md), in order; the forwarder is the last.
        services.AddSingleton<Identity.Jwt.JwtAuthenticator>();
        services.AddSingleton<IRequestStep, Pipeline.CorsStep>();
        services.AddSingleton<IRequestStep, AuthenticationStep>();
        services.AddSingleton<IRequestStep, AdmissionStep>();
        services.AddSingleton<Transforms.BufferedBodies>();
        services.AddSingleton<IRequestStep, RequestTransformStep>();
        services.AddSingleton<IRequestStep, MeterStep>();
        services.AddSingleton<IRequestStep, ForwardStep>();
        services.AddSingleton<GatewayPipeline>();
        services.AddHttpForwarder();
        services.AddAdminApi(options);
        services.AddBilling(options);
        services.AddGatewayTelemetry(options, builder.Configuration);
        webModules ??= [];
        foreach (var module in webModules)
        {
            module.AddServices(services, options);
        }

        services.AddPortal(options);
        services.AddWebhooks(options);
        replaceServices?.Invoke(services); // last: a later registration of a service is the one resolved

        var app = builder.Build();

        // The usage queue and the quota flusher stop after the server has drained in-flight requests (hosted services
        // may stop before the server does), so the last requests' events and counts are written too.
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        // Bounded: a store locked by another process must not hold the process forever (what is left is dropped and counted).
        lifetime.ApplicationStopped.Register(() =>
        {
            using var drain = new CancellationTokenSource(FinalWriteTimeout);
            app.Services.GetRequiredService<UsageMaintenance>().StopAsync(drain.Token).GetAwaiter().GetResult();
            app.Services.GetRequiredService<UsageRecorder>().StopAsync(drain.Token).GetAwaiter().GetResult();
            app.Services.GetRequiredService<UsageFlusher>().StopAsync(drain.Token).GetAwaiter().GetResult();
            // Units counted during a Redis outage and not in Redis yet: added there, or kept in the store for the next instance.
            app.Services.GetService<RedisAdmission>()?.HandOverAsync(drain.Token).GetAwaiter().GetResult();
            app.Services.GetRequiredService<StoreWriter>().Dispose();
        });

        if (redirect is not null)
        {
            app.Use(next => context => redirect.InvokeAsync(context, next)); // first: nothing else is served on that port
        }

        if (!trustedProxies.IsEmpty)
        {
            // Before anything reads the client address; not added at all when no proxy is trusted.
            var clientAddress = new Proxies.ClientAddressMiddleware(trustedProxies);
            app.Use(next => context => clientAddress.InvokeAsync(context, next));
        }

        // The admin base path and the pages' (console, portal) only as sent: '/pub/%2e%2e/admin/x' is Kestrel's '/admin/x'
        // after its own decoding and dot-segment removal, but to the path rule (docs/routing.md) it is a refused path —
        // counted and logged as such. A proxy in front that forwards only '/api/*' or '/portal/*' as sent must not open
        // the admin API or the console to '/api/%2e%2e/ui'.
        var pipeline = app.Services.GetRequiredService<GatewayPipeline>();
        var webBranches = webModules.SelectMany(module => module.Build(app.Services, options)).ToArray();
        var pagePaths = webBranches.Select(branch => branch.BasePath).ToArray();
        // A Host whose port is past 65535 first: it names no port, and every surface (routes, admin API, pages) reads the Host.
        app.Use(next => context => RequestHost.HasPortOutOfRange(context.Request)
            ? pipeline.RefuseAsync(context, RequestGuard.HostPortOutOfRange)
            : RequestGuard.OwnPathNamedOnlyAfterDotSegments(context, options.AdminBasePath, pagePaths) is not { } problem
                ? next(context)
                : pipeline.RefuseAsync(context, RequestGuard.InvalidPath(problem)));
        adminListener.AddBranches(webBranches.Where(branch => branch.OnAdminSide));
        app.MapAdminApi(options); // before the proxy: requests under the admin base path never reach the routes
        foreach (var branch in webBranches.Where(branch => !branch.OnAdminSide))
        {
            app.Use(AdminListener.Branch(branch));
        }

        app.Use(app.Services.GetRequiredService<ReservedEndpoints>().InvokeAsync);
        app.Run(pipeline.InvokeAsync);
        return app;
    }

    /// <summary>Migrates the store, loads the first config snapshot, then starts listening.</summary>
    public static async Task StartAsync(WebApplication app, CancellationToken cancellationToken = default)
    {
        var store = app.Services.GetRequiredService<IGatewayStore>();
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(GatewayHost).FullName!);
        if (store is ApiGate.Storage.Sql.SqlGatewayStore { Waiting: null } sql)
        {
            sql.Waiting = message => GatewayHostLog.WaitingForStore(log, message); // `apigate serve` prints it itself
        }

        await store.InitializeAsync(cancellationToken);
        GatewayHostLog.StoreOpened(log, store.Created ? "Created a new store" : "Opened the store", store.Location);
        foreach (var notice in (store as ApiGate.Storage.Sql.SqlGatewayStore)?.MigrationNotices ?? [])
        {
            GatewayHostLog.MigrationNotice(log, notice);
        }

        await app.Services.GetRequiredService<SnapshotManager>().InitializeAsync(cancellationToken);
        if (app.Services.GetService<RedisAdmission>() is { } redis)
        {
            // A Redis that refuses the gateway stops the start; one not running yet starts it with Redis unavailable
            // (docs/scaling.md). The in-process counters are not used either way.
            await redis.ConnectAsync(cancellationToken);
            app.Services.GetRequiredService<LimitsMetrics>(); // its instruments exist from the start
        }
        else
        {
            await app.Services.GetRequiredService<QuotaCounters>().InitializeAsync(cancellationToken);
        }

        await app.Services.GetRequiredService<UsageRecorder>().StartAsync(cancellationToken);
        app.Services.GetRequiredService<UsageMetrics>(); // its instruments exist from the start
        await app.Services.GetRequiredService<UsageMaintenance>().StartAsync(cancellationToken);
        await app.Services.GetRequiredService<UsageFlusher>().StartAsync(cancellationToken);
        await app.StartAsync(cancellationToken);
    }

    /// <summary>
    /// Serves until the process is asked to stop (SIGINT, SIGTERM, or <see cref="IHostApplicationLifetime.StopApplication"/>),
    /// then stops: it goes on serving for <see cref="GatewayOptions.StopDelay"/> (<c>/health/ready</c> answering 503 from
    /// the start of the stop), then closes the port, and requests in flight have up to
    /// <see cref="GatewayOptions.ShutdownTimeout"/> to finish. The same request again while it waits or drains — a second
    /// Ctrl+C, a second SIGTERM — ends the wait and the drain at once: the requests still open are cut, and the process
    /// goes on to its final writes (usage, bounded by <see cref="FinalWriteTimeout"/>) and exits.
    /// </summary>
    public static async Task RunUntilStoppedAsync(WebApplication app, CancellationToken cancellationToken = default)
    {
        using var hurry = new CancellationTokenSource();
        var signals = 0;
        var log = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(GatewayHost).FullName!);
        void Hurry(System.Runtime.InteropServices.PosixSignalContext signal)
        {
            // The first is the host's to handle (it begins the stop); the ones after it are the operator insisting.
            if (Interlocked.Increment(ref signals) < 2)
            {
                return;
            }

            signal.Cancel = true;
            if (!hurry.IsCancellationRequested)
            {
                GatewayHostLog.StopHurried(log, signal.Signal.ToString());
                hurry.Cancel();
            }
        }

        using var interrupt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, Hurry);
        using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, Hurry);
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (app.Lifetime.ApplicationStopping.Register(() => stopping.TrySetResult()))
        using (cancellationToken.Register(() => stopping.TrySetResult()))
        {
            await stopping.Task;
        }

        if (app.Services.GetRequiredService<GatewayOptions>().StopDelay is { Ticks: > 0 } delay && !hurry.IsCancellationRequested)
        {
            GatewayHostLog.StopDelayed(log, delay.TotalSeconds);
            try
            {
                await Task.Delay(delay, hurry.Token);
            }
            catch (OperationCanceledException)
            {
                // A second signal: stop now.
            }
        }

        await app.StopAsync(hurry.Token);
    }

    /// <summary>The addresses Kestrel is listening on (with the real port when 0 was asked for); the main listener's first,
    /// then the h2c listener's (<see cref="GatewayOptions.H2cPort"/>) if any, then the admin listener's (see <see cref="AdminAddress"/>),
    /// then the HTTPS redirect listener's (<see cref="GatewayOptions.TlsRedirectListen"/>).</summary>
    public static IReadOnlyCollection<string> Addresses(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];

    /// <summary>The admin listener's address (<c>APIGATE_ADMIN_LISTEN</c>, with the real port once started), or null when the
    /// admin API and metrics are served on the main port.</summary>
    public static string? AdminAddress(WebApplication app) => app.Services.GetRequiredService<AdminListener>().Url;

    /// <summary>The certificates when TLS is configured; a file that cannot be used stops the start, naming its setting.</summary>
    private static TlsCertificates? CreateTls(GatewayOptions options, TimeProvider clock, List<string> warnings)
    {
        if (TlsSources.From(options) is not { Enabled: true } sources)
        {
            return null;
        }

        try
        {
            return new TlsCertificates(sources, clock, warnings);
        }
        catch (TlsConfigurationException ex)
        {
            throw new ArgumentException($"invalid configuration: {ex.Setting} ({GatewaySettings.Get(ex.Setting).EnvironmentVariable}): {ex.Message}", ex);
        }
    }

    private static void Listen(
        Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions kestrel, string host, int port, Action<Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions>? configure = null)
    {
        configure ??= static _ => { };
        if (host is "0.0.0.0" or "*" or "")
        {
            kestrel.Listen(IPAddress.Any, port, configure);
        }
        else if (host is "::" or "[::]")
        {
            kestrel.Listen(IPAddress.IPv6Any, port, configure);
        }
        else if (host == "localhost")
        {
            kestrel.ListenLocalhost(port, configure);
        }
        else if (IPAddress.TryParse(host.Trim('[', ']'), out var address))
        {
            kestrel.Listen(address, port, configure);
        }
        else
        {
            throw new ArgumentException($"server host '{host}' is not an IP address, localhost or 0.0.0.0");
        }
    }

    private static void ConfigureLogging(ILoggingBuilder logging, GatewayOptions options)
    {
        logging.ClearProviders();
        if (options.LogFormat == "console")
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                // No colour codes, even on a terminal: like the access line, every line is plain text, and an escape
                // character in a line is a client's, written as \u001B (BufferedLoggerProvider).
                o.ColorBehavior = Microsoft.Extensions.Logging.Console.LoggerColorBehavior.Disabled;
                o.TimestampFormat = Observability.AccessLogFormatter.TimestampFormat + " ";
                o.UseUtcTimestamp = true;
            });
        }
        else
        {
            logging.AddJsonConsole(o =>
            {
                o.TimestampFormat = Observability.AccessLogFormatter.TimestampFormat;
                o.UseUtcTimestamp = true;
            });
        }

        logging.SetMinimumLevel(ParseLevel(options.LogLevel));
        // Per-request framework logs would drown the gateway's own; keep them at warnings.
        logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // Hosting diagnostics only log request start/finish (Information/Debug), but while any level of the category is
        // enabled ASP.NET Core creates an Activity and a log scope for every request. Off: requests cost less, and the
        // gateway's own span and access line cover the same ground.
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        logging.AddFilter("Yarp", LogLevel.Warning);
        // A failed attempt may be retried on another target; the gateway logs what the client finally got (event 3001).
        logging.AddFilter("Yarp.ReverseProxy.Forwarder.HttpForwarder", LogLevel.Error);
        logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        logging.AddGatewayLogging(options);
    }

    /// <summary>Maps <c>APIGATE_LOG_LEVEL</c> names (trace, debug, info, warn, error) to log levels.</summary>
    public static LogLevel ParseLevel(string level) =>
        TryParseLevel(level, out var parsed) ? parsed : throw new ArgumentException($"log level '{level}' is not one of trace, debug, info, warn, error");

    /// <summary>Maps <c>APIGATE_LOG_LEVEL</c> names to log levels; false for a name that is not one.</summary>
    public static bool TryParseLevel(string level, out LogLevel parsed) => LogLevels.TryParse(level, out parsed);
}

/// <summary>Start-up log lines of <see cref="GatewayHost"/>.</summary>
internal static partial class GatewayHostLog
{
    [LoggerMessage(EventId = 1010, Level = LogLevel.Information, Message = "{What} at {Location}")]
    public static partial void StoreOpened(ILogger logger, string what, string location);

    [LoggerMessage(EventId = 1014, Level = LogLevel.Warning, Message = "Store migrated: {Notice}")]
    public static partial void MigrationNotice(ILogger logger, string notice);

    [LoggerMessage(EventId = 1013, Level = LogLevel.Warning, Message = "Not listening yet: {Message}")]
    public static partial void WaitingForStore(ILogger logger, string message);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Information,
        Message = "Stopping: still serving for {Seconds} s (server.stop_delay) while /health/ready answers 503, then closing the port and draining")]
    public static partial void StopDelayed(ILogger logger, double seconds);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Warning, Message = "{Signal} again while stopping: the requests still in flight are ended now instead of at server.shutdown_timeout")]
    public static partial void StopHurried(ILogger logger, string signal);
}
