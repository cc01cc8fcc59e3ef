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

    // The read-only endpoints' handlers, made once (TryGetHandler runs for every request to a reserved path).
    private static readonly RequestDelegate HealthHandler = ReadOnly(HealthAsync);
    private static readonly RequestDelegate VersionHandler = ReadOnly(VersionAsync);
    private readonly RequestDelegate _readiness = ReadOnly(readiness.Handler);
    private readonly RequestDelegate? _metrics = metrics.Handler is { } scrape ? ReadOnly(scrape) : null;

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
            "/health" => HealthHandler,
            "/health/ready" => _readiness,
            "/version" => VersionHandler,
            "/metrics" when _metrics is { } scrape => scrape,
            Billing.BillingWebhookEndpoint.Path when billingWebhook.Handler is { } hook => hook,
            _ when IsUnder(path, "/health") || IsUnder(path, "/admin") || path == "/metrics" => NotFoundAsync,
            _ when _portal && IsUnder(path, Portal.PortalOptions.BasePath) => NotFoundAsync,
            _ => null,
        };
    }

    /// <summary>The 405 a read-only reserved endpoint answers to any method but GET and HEAD.</summary>
    private static readonly GatewayError ReadOnlyMethodNotAllowed = new(405, "method_not_allowed", "Method Not Allowed",
        "This gateway endpoint is read-only: use GET or HEAD.")
    {
        Allow = "GET, HEAD",
    };

    /// <summary>
    /// <paramref name="handler"/> for GET and HEAD; any other method (a POST, DELETE or OPTIONS a scanner sends) gets
    /// <c>405</c> with <c>Allow: GET, HEAD</c> rather than the answer a monitor reads as health.
    /// </summary>
    public static RequestDelegate ReadOnly(RequestDelegate handler) => context =>
        HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)
            ? handler(context)
            : GatewayErrorWriter.WriteAsync(context, ReadOnlyMethodNotAllowed).AsTask();

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
