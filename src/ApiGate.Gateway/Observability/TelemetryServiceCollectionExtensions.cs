using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Observability;

/// <summary>Registers metrics, tracing and the logging settings of the gateway (docs/observability.md).</summary>
internal static class TelemetryServiceCollectionExtensions
{
    /// <summary>
    /// Metrics instruments and the <c>/metrics</c> exporter (when <see cref="GatewayOptions.MetricsEnabled"/>), the
    /// request span source with OTLP export (when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> or
    /// <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c> is set; the standard <c>OTEL_*</c> variables configure the exporter).
    /// </summary>
    public static IServiceCollection AddGatewayTelemetry(this IServiceCollection services, GatewayOptions options, IConfiguration configuration)
    {
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<RequestTelemetry>();
        services.AddSingleton<MetricsEndpoint>();

        var tracing = TracingConfigured(configuration);
        if (!options.MetricsEnabled && !tracing)
        {
            return services;
        }

        var telemetry = services.AddOpenTelemetry().ConfigureResource(resource =>
        {
            if (string.IsNullOrEmpty(configuration["OTEL_SERVICE_NAME"]))
            {
                resource.AddService("apigate", serviceVersion: ProductVersion.Value);
            }
        });
        if (options.MetricsEnabled)
        {
            telemetry.WithMetrics(metrics => metrics
                .AddMeter(GatewayMetrics.MeterName)
                .AddMeter("System.Runtime") // the runtime's own: GC heap size and committed memory, working set, GC counts
                .AddView(instrument => new MetricStreamConfiguration { CardinalityLimit = GatewayMetrics.SeriesLimit(instrument) })
                .AddPrometheusExporter(exporter =>
                {
                    // Every scrape sees current values (the default caches a response for 300 ms).
                    exporter.ScrapeResponseCacheDurationMilliseconds = 0;
                    exporter.ScopeInfoEnabled = false;
                }));
        }

        if (tracing)
        {
            telemetry.WithTracing(traces => traces.AddSource(GatewayTracing.SourceName).AddOtlpExporter());
            var problems = TelemetrySettingsStartupCheck.Problems(configuration);
            if (problems.Count > 0)
            {
                services.AddHostedService(sp => new TelemetrySettingsStartupCheck(problems, sp.GetRequiredService<ILogger<TelemetrySettingsStartupCheck>>()));
            }
        }

        return services;
    }

    /// <summary>
    /// Replaces the stock console logger with <see cref="BufferedLoggerProvider"/> (same formatter, so the same json or
    /// console lines on stdout, written in batches), applies <c>APIGATE_ACCESS_LOG</c>, and adds the optional
    /// <see cref="GatewayOptions.LogWriter"/> copy. Call after the console formatter is configured.
    /// </summary>
    public static ILoggingBuilder AddGatewayLogging(this ILoggingBuilder logging, GatewayOptions options)
    {
        var services = logging.Services;
        foreach (var stock in services.Where(d => d.ServiceType == typeof(ILoggerProvider) && d.ImplementationType == typeof(ConsoleLoggerProvider)).ToList())
        {
            services.Remove(stock);
        }

        var formatterName = options.LogFormat == "console" ? ConsoleFormatterNames.Simple : ConsoleFormatterNames.Json;
        services.AddSingleton<ILoggerProvider>(sp => new BufferedLoggerProvider(
            Formatter(sp, formatterName), new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 64 * 1024)));
        if (options.LogWriter is { } writer)
        {
            services.AddSingleton<ILoggerProvider>(sp => new BufferedLoggerProvider(Formatter(sp, formatterName), writer));
        }

        // Kestrel's refusals, for the one provider that counts them (the others keep Kestrel's categories at warnings).
        services.AddSingleton<ILoggerProvider>(sp => new ServerRefusals(sp));
        logging.AddFilter<ServerRefusals>(ServerRefusals.KestrelCategory, LogLevel.Debug);
        logging.AddFilter<ServerRefusals>(category: null, LogLevel.None); // no other category: not even a no-op call per log line

        if (!options.AccessLog)
        {
            logging.AddFilter(AccessLog.Category, LogLevel.None);
        }

        return logging;
    }

    private static ConsoleFormatter Formatter(IServiceProvider services, string name) =>
        services.GetServices<ConsoleFormatter>().First(f => f.Name == name);

    private static bool TracingConfigured(IConfiguration configuration) =>
        !string.Equals(configuration["OTEL_SDK_DISABLED"], "true", StringComparison.OrdinalIgnoreCase)
        && (!string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]) || !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]));
}
