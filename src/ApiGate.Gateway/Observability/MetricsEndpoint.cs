using ApiGate.Gateway.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Builder;
using OpenTelemetry.Metrics;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// Serves <c>/metrics</c> in the Prometheus text format (or OpenMetrics when the scraper asks for it) through
/// OpenTelemetry's Prometheus exporter. Null <see cref="Handler"/> when <c>APIGATE_METRICS_ENABLED=false</c>: the
/// path stays reserved and answers 404.
/// </summary>
internal sealed class MetricsEndpoint
{
    public MetricsEndpoint(IServiceProvider services, GatewayOptions options)
    {
        if (options.MetricsEnabled)
        {
            // The exporter's middleware is only reachable through its IApplicationBuilder extension: build a
            // one-branch pipeline for it, outside the server's own, and call it from the reserved endpoints.
            var branch = new ApplicationBuilder(services);
            // Counters change every request: a cache between the scraper and the gateway must not answer with old ones.
            branch.Use(static (context, next) =>
            {
                context.Response.Headers.CacheControl = "no-store";
                return next(context);
            });
            branch.UseOpenTelemetryPrometheusScrapingEndpoint(
                services.GetRequiredService<MeterProvider>(), predicate: static _ => true, path: null, configureBranchedPipeline: null, optionsName: null);
            branch.Run(static context => GatewayErrorWriter.WriteAsync(context, GatewayError.NotFound).AsTask());
            ScrapeHandler = branch.Build();
            Handler = options.AdminListen.Length == 0 ? ScrapeHandler : null; // else served on the admin listener only
        }
    }

    /// <summary>The scrape handler on the main port, or null when metrics are disabled or served on the admin listener.</summary>
    public RequestDelegate? Handler { get; }

    /// <summary>The scrape handler, or null when metrics are disabled.</summary>
    public RequestDelegate? ScrapeHandler { get; }
}
