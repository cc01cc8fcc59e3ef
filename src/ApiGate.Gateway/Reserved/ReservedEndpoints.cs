using System.Reflection;
using System.Text.Json;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Health;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Reserved;

/// <summary>
/// Paths the gateway always serves itself, whatever routes exist (SPEC §2.5): <c>/health</c> (liveness: a constant
/// answer, no checks), <c>/health/ready</c> (the readiness health checks, <see cref="ReadinessEndpoint"/>),
/// <c>/version</c>, <c>/metrics</c> (404 when metrics are disabled), <c>/billing/stripe/webhook</c> (while billing is on). The admin API is served before this pipeline
/// under its base path (default <c>/admin</c>, see Admin/AdminApi); <c>/admin/*</c> stays reserved here when the base
/// path is moved elsewhere. While the customer portal is on (<c>APIGATE_PORTAL_ENABLED</c>), <c>/portal</c> and
/// everything under it are the portal's: its pages are mapped before this middleware, and any other path under it
/// answers 404 here instead of reaching a route.
/// </summary>
internal sealed class ReservedEndpoints(ReadinessEndpoint readiness, Observability.MetricsEndpoint metrics, Configuration.GatewayOptions options, Billing.BillingWebhookEndpoint billingWebhook)
{
    private readonly bool _portal = options.PortalEnabled;

    /// <summary>The product version, from the assembly's informational version.</summary>
    public static string Version => Observability.ProductVersion.Value;

    private static readonly byte[] HealthBody = JsonSerializer.SerializeToUtf8Bytes(new { status = "ok" });
    private static readonly byte[] VersionBody = JsonSerializer.SerializeToUtf8Bytes(new { version = Version, runtime = Environment.Version.ToString() });

    /// <summary>
    /// Middleware in front of the proxy: answers a reserved path — only when the request names it as sent:
    /// '/pub/%2e%2e/metrics' is Kestrel's '/metrics' after its own decoding and dot-segment removal, but to the path rule
    /// it is a refused path (<see cref="Pipeline.RequestGuard"/>) — and passes everything else on.
    /// </summary>
    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var path = context.Request.Path.Value;
        if (string.IsNullOrEmpty(path))
        {
            path = "/";
        }

        return TryGetHandler(path) is { } handler && Pipeline.RequestGuard.NamesPathAsSent(context, path) ? handler(context) : next(context);
    }

    /// <summary>The handler for a reserved path, or null when the path belongs to the routes.</summary>
    public RequestDelegate? TryGetHandler(string path)
    {
        if (!(path.StartsWith("/health", StringComparison.Ordinal) || path.StartsWith("/version", StringComparison.Ordinal)
              || path.StartsWith("/metrics", StringComparison.Ordinal) || path.StartsWith("/admin", StringComparison.Ordinal)
              || (_portal && path.StartsWith(Portal.PortalOptions.BasePath, StringComparison.Ordinal))
              || path.StartsWith(Billing.BillingWebhookEndpoint.Path, StringComparison.Ordinal)))
        {
            return null;
        }

        return path switch
        {
            "/health" => HealthAsync,
            "/health/ready" => readiness.Handler,
            "/version" => VersionAsync,
            "/metrics" when metrics.Handler is { } scrape => scrape,
            Billing.BillingWebhookEndpoint.Path when billingWebhook.Handler is { } hook => hook,
            _ when IsUnder(path, "/health") || IsUnder(path, "/admin") || path == "/metrics" => NotFoundAsync,
            _ when _portal && IsUnder(path, Portal.PortalOptions.BasePath) => NotFoundAsync,
            _ => null,
        };
    }

    private static bool IsUnder(string path, string root) =>
        path.Length == root.Length ? path == root : path.StartsWith(root, StringComparison.Ordinal) && path[root.Length] == '/';

    private static Task HealthAsync(HttpContext context) => WriteJsonAsync(context, 200, HealthBody);

    private static Task VersionAsync(HttpContext context) => WriteJsonAsync(context, 200, VersionBody);

    private static Task NotFoundAsync(HttpContext context) => GatewayErrorWriter.WriteAsync(context, GatewayError.NotFound).AsTask();

    private static Task WriteJsonAsync(HttpContext context, int status, byte[] body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        context.Response.ContentLength = body.Length;
        return context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }
}
