using ApiGate.Core.Routing;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Forwarding;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Observability;
using ApiGate.Gateway.Reserved;
using ApiGate.Gateway.Snapshots;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// The request path (SPEC §1): reserved endpoints first, then match a route against the current snapshot, run the
/// steps in order, forward. One code path for every protocol.
/// </summary>
internal sealed partial class GatewayPipeline(
    SnapshotManager snapshots,
    ReservedEndpoints reserved,
    IEnumerable<IRequestStep> steps,
    UpstreamForwarder forwarder,
    GatewayEnvironment environment,
    RequestTelemetry telemetry,
    GatewayOptions options,
    ILogger<GatewayPipeline> logger)
{
    private readonly IRequestStep[] _steps = [.. steps];

    public async Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path.Value;
        if (string.IsNullOrEmpty(path))
        {
            path = "/";
        }

        if (reserved.TryGetHandler(path) is { } handler)
        {
            await handler(context);
            return;
        }

        // Everything past the reserved endpoints is measured, logged and traced once, whatever answers it.
        var scope = telemetry.Begin(context);
        var completed = false;
        try
        {
            await ProxyAsync(context, path);
            completed = true;
        }
        finally
        {
            telemetry.End(context, scope, completed);
        }
    }

    /// <param name="path">Kestrel's decoded path, used for reserved endpoints; replaced by the path the gateway decoded
    /// itself from the raw request target (<see cref="RequestGuard"/>), which is what is matched and forwarded.</param>
    private async Task ProxyAsync(HttpContext context, string path)
    {
        var requestId = RequestIds.FromClientOrNew(context.Request.Headers["X-Request-ID"]);
        context.Response.Headers["X-Request-ID"] = requestId;

        if (RequestGuard.Check(context, options, ref path) is { } refusal)
        {
            await GatewayErrorWriter.WriteAsync(context, refusal);
            return;
        }

        var snapshot = snapshots.Current;
        if (snapshot is null)
        {
            await GatewayErrorWriter.WriteAsync(context, GatewayError.NotReady);
            return;
        }

        RouteMatch match;
        try
        {
            if (!snapshot.Routes.TryMatch(context.Request.Host.Value, context.Request.Method, path, new RequestHeaders(context.Request.Headers), out match)
                && !(snapshot.DefaultRoute is { } defaultRoute && defaultRoute.TryMatchPath(path, out match)))
            {
                await GatewayErrorWriter.WriteAsync(context, GatewayError.RouteNotFound);
                return;
            }
        }
        catch (System.Text.RegularExpressions.RegexMatchTimeoutException ex)
        {
            LogMatchTimedOut(ex.Pattern, requestId);
            await GatewayErrorWriter.WriteAsync(context, GatewayError.RouteNotFound);
            return;
        }

        var upstream = snapshot.UpstreamFor(match.Route);
        if (upstream is null)
        {
            // A route without an upstream relies on APIGATE_UPSTREAM_URL, which is not set.
            await GatewayErrorWriter.WriteAsync(context, GatewayError.UpstreamUnavailable with
            {
                Detail = "The route has no upstream and no default upstream (APIGATE_UPSTREAM_URL) is configured.",
            });
            return;
        }

        var request = new GatewayRequest(context, snapshot, match, upstream, requestId, environment);
        context.Features.Set(request);
        foreach (var step in _steps)
        {
            var next = step.InvokeAsync(request);
            if (!(next.IsCompletedSuccessfully ? next.Result : await next))
            {
                return;
            }
        }

        await forwarder.ForwardAsync(request);
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Route pattern {Pattern} timed out matching request {RequestId}")]
    private partial void LogMatchTimedOut(string pattern, string requestId);
}
