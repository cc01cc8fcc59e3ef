using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ApiGate.Gateway.Health;

/// <summary>
/// <c>GET /health/ready</c>: ASP.NET Core's health check middleware running the checks tagged <see cref="Tag"/>
/// (<see cref="StoreHealthCheck"/>, <see cref="ConfigSnapshotHealthCheck"/>, <see cref="LimitsHealthCheck"/> with shared
/// limits, <see cref="StoppingHealthCheck"/>): 200 when all are healthy; 200 with status <c>degraded</c> when the worst is
/// degraded, still serving (a database server that does not answer, shared limits in Redis unavailable), with
/// <c>degraded</c> naming which; 503 otherwise — with status <c>stopping</c> once a graceful stop has begun; never cached.
/// The body keeps the gateway's shape (docs/observability.md):
/// <c>{"status":"ready"|"degraded"|"not_ready"|"stopping","degraded"?:["store"|"limits"],"checks":{"store","store_path","store_reason"?,"config","config_version","limits"?}}</c>.
/// Built as a one-branch pipeline outside the server's own, so the reserved endpoints answer it before any route and
/// on whichever listener they serve.
/// </summary>
internal sealed class ReadinessEndpoint
{
    /// <summary>The tag of the checks that decide readiness.</summary>
    public const string Tag = "ready";

    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public ReadinessEndpoint(IServiceProvider services)
    {
        var options = new HealthCheckOptions
        {
            Predicate = static registration => registration.Tags.Contains(Tag),
            ResponseWriter = WriteAsync,
        };
        var branch = new ApplicationBuilder(services);
        branch.UseMiddleware<HealthCheckMiddleware>(Options.Create(options));
        Handler = branch.Build();
    }

    /// <summary>Runs the readiness checks and writes the answer.</summary>
    public RequestDelegate Handler { get; }

    private static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var store = report.Entries.GetValueOrDefault(StoreHealthCheck.Name);
        var config = report.Entries.GetValueOrDefault(ConfigSnapshotHealthCheck.Name);
        var storeOk = store.Status == HealthStatus.Healthy;
        var limitsEntry = report.Entries.TryGetValue(LimitsHealthCheck.Name, out var found) ? found : (HealthReportEntry?)null;
        var limits = limitsEntry is { } l ? Data(l, "state") : null;
        // store_reason is shown for a degraded store too: it says which server does not answer.
        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            status = report.Entries.GetValueOrDefault(StoppingHealthCheck.Name).Status == HealthStatus.Unhealthy ? "stopping"
                : report.Status switch { HealthStatus.Healthy => "ready", HealthStatus.Degraded => "degraded", _ => "not_ready" },
            degraded = report.Status == HealthStatus.Degraded ? Degraded(store, limitsEntry) : null,
            checks = new
            {
                // A check that threw (or timed out) has no data: it could not show the store answering.
                store = Data(store, "state") ?? "unreachable",
                store_path = Data(store, "path"),
                store_reason = storeOk ? null : Data(store, "reason") ?? store.Description ?? store.Exception?.Message,
                config = config.Status == HealthStatus.Healthy ? "loaded" : "not_loaded",
                config_version = config.Data?.GetValueOrDefault("version") as long? ?? 0,
                limits, // only with APIGATE_REDIS_URL: redis, fallback (open) or unavailable (closed)
            },
        }, Json);
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    private static string? Data(HealthReportEntry entry, string key) => entry.Data?.GetValueOrDefault(key) as string;

    /// <summary>What is degraded: <c>store</c> (a database server down), <c>limits</c> (shared limits in Redis unavailable).</summary>
    private static string[] Degraded(HealthReportEntry store, HealthReportEntry? limits) =>
        (store.Status == HealthStatus.Degraded, limits?.Status == HealthStatus.Degraded) switch
        {
            (true, true) => ["store", "limits"],
            (true, false) => ["store"],
            (false, true) => ["limits"],
            _ => [],
        };
}
