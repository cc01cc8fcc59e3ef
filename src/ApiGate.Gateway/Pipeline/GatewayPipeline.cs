using ApiGate.Core.Routing;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Snapshots;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// The request path (docs/architecture.md), after the reserved endpoints, inside the telemetry scope it opens: the path
/// rule, the snapshot and the route match; then the row of steps, in order — CORS (preflights answered), authenticate, admit (rate limit + quota lease), transform the request,
/// meter, forward — and, once the exchange is over, the completing steps in reverse order (meter and settle, release
/// an unused lease). One code path for every protocol.
/// </summary>
internal sealed partial class GatewayPipeline(
    SnapshotManager snapshots,
    IEnumerable<IRequestStep> steps,
    GatewayEnvironment environment,
    GatewayOptions options,
    Observability.RequestTelemetry telemetry,
    ILogger<GatewayPipeline> logger)
{
    private readonly IRequestStep[] _steps = [.. steps];

    /// <summary>
    /// Answers one proxied request (the reserved endpoints run before it), measured, logged and traced once whatever
    /// answers it: the telemetry scope wraps the whole of it here rather than as a middleware of its own, so a request
    /// costs one async state machine less.
    /// </summary>
    public async Task InvokeAsync(HttpContext context)
    {
        var scope = telemetry.Begin(context);
        var completed = true;
        try
        {
            // Kestrel's decoded path, replaced below by the path the gateway decodes itself from the raw request target
            // (RequestGuard): that one is what is matched and forwarded.
            var path = context.Request.Path.Value;
            if (string.IsNullOrEmpty(path))
            {
                path = "/";
            }

            var requestId = RequestIds.FromClientOrNew(context.Request.Headers["X-Request-ID"], options.AuthKeyPrefix);
            context.Response.Headers["X-Request-ID"] = requestId;

            if (RequestGuard.Check(context, options, ref path, out var rawPath) is { } refusal)
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
                // A CORS preflight is matched as the request it announces; when that finds no route with a CORS policy,
                // it is an ordinary OPTIONS request (CorsStep answers the preflight).
                var preflight = Cors.CorsHeaders.PreflightMethod(context.Request);
                var method = GatewayRequest.RoutingMethod(context);
                var matched = TryMatch(snapshot, context, preflight ?? method, path, out match);
                if (preflight is not null && (!matched || snapshot.PoliciesFor(match.Route).Cors is null))
                {
                    matched = TryMatch(snapshot, context, method, path, out match);
                }

                if (!matched)
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
                // A route without an upstream relies on APIGATE_UPSTREAM_URL, which is not set. On a CORS route a
                // preflight needs no upstream and is answered as always, and the error carries the route's CORS headers
                // so a page can read it.
                if (snapshot.PoliciesFor(match.Route).Cors is { } cors && !CorsStep.Apply(context, cors, out var preflightRefusal))
                {
                    if (preflightRefusal is not null)
                    {
                        await GatewayErrorWriter.WriteAsync(context, preflightRefusal);
                    }

                    return;
                }

                await GatewayErrorWriter.WriteAsync(context, GatewayError.UpstreamUnavailable with
                {
                    Detail = "The route has no upstream and no default upstream (APIGATE_UPSTREAM_URL) is configured.",
                });
                return;
            }

            var request = new GatewayRequest(context, snapshot, match, upstream, requestId, environment) { RawPath = rawPath };
            context.Features.Set<Observability.IObservedRequest>(request); // what telemetry reads when the request is over
            var invoked = 0;
            try
            {
                while (invoked < _steps.Length)
                {
                    var next = _steps[invoked++].InvokeAsync(request);
                    if (!(next.IsCompletedSuccessfully ? next.Result : await next))
                    {
                        return;
                    }
                }
            }
            finally
            {
                // After the exchange, last step first: each completing step settles what it started (the meter commits the
                // quota lease with the metered units, admission releases a lease nobody committed).
                while (invoked > 0)
                {
                    if (_steps[--invoked] is ICompletingStep completing)
                    {
                        completing.OnCompleted(request);
                    }
                }
            }
        }
        catch
        {
            completed = false;
            throw;
        }
        finally
        {
            telemetry.End(context, scope, completed);
        }
    }

    /// <summary>
    /// Answers a request refused before it reaches the pipeline (a path that names the admin API only once Kestrel has
    /// removed its dot segments) with <paramref name="refusal"/>, measured, logged and traced like a refusal inside it:
    /// a probe of the admin API through <c>/pub/%2e%2e/admin/…</c> gets its access-log line and its count.
    /// </summary>
    public async Task RefuseAsync(HttpContext context, GatewayError refusal)
    {
        var scope = telemetry.Begin(context);
        var completed = true;
        try
        {
            context.Response.Headers["X-Request-ID"] = RequestIds.FromClientOrNew(context.Request.Headers["X-Request-ID"], options.AuthKeyPrefix);
            await GatewayErrorWriter.WriteAsync(context, refusal);
        }
        catch
        {
            completed = false;
            throw;
        }
        finally
        {
            telemetry.End(context, scope, completed);
        }
    }

    /// <summary>The route a request with <paramref name="method"/> and <paramref name="path"/> is served by, as the pipeline matches it.</summary>
    internal static bool TryMatch(ConfigSnapshot snapshot, HttpContext context, string method, string path, out RouteMatch match) =>
        snapshot.Routes.TryMatch(RequestHost.Value(context.Request), method, path, new RequestHeaders(context.Request.Headers), out match)
        || (snapshot.DefaultRoute is { } defaultRoute && defaultRoute.TryMatchPath(path, out match));

    [LoggerMessage(EventId = 2101, Level = LogLevel.Warning, Message = "Route pattern {Pattern} timed out matching request {RequestId}")]
    private partial void LogMatchTimedOut(string pattern, string requestId);
}
