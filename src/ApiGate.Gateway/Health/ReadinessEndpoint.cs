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
/// (<see cref="StoreHealthCheck"/>, <see cref="ConfigSnapshotHealthCheck"/>): 200 when all are healthy, 503 otherwise,
/// never cached. The body keeps the gateway's shape (docs/observability.md):
/// <c>{"status":"ready"|"degraded"|"not_ready","checks":{"store","store_path","store_reason"?,"config","config_version","limits"?}}</c>;
/// degraded (still 200) only while shared limits in Redis are unavailable (<see cref="LimitsHealthCheck"/>).
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
        var limits = report.Entries.TryGetValue(LimitsHealthCheck.Name, out var limitsEntry) ? Data(limitsEntry, "state") : null;
        var body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            status = report.Status switch { HealthStatus.Healthy => "ready", HealthStatus.Degraded => "degraded", _ => "not_ready" },
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
}
