using System.Globalization;
using System.Runtime.CompilerServices;
using ApiGate.Core.Routing;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Pipeline;
using ApiGate.Gateway.Snapshots;
using ApiGate.Gateway.Transforms;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Forwarding;

/// <summary>
/// The last step of the request path: picks a healthy target, sends the request through YARP's
/// <see cref="IHttpForwarder"/> (streaming both ways, WebSocket upgrades, hop-by-hop handling), retries once on another
/// target when nothing can have been done twice, and maps forwarding failures to SPEC §1.2 errors — nothing else.
/// Metering, the quota lease and the usage event are <see cref="MeterStep"/>'s, after the exchange.
/// </summary>
internal sealed partial class ForwardStep(
    IHttpForwarder forwarder, ResponseBodyTransformer responseBodies, TimeoutSources timeouts, OpenStreams streams, GatewayOptions options,
    ILogger<ForwardStep> logger) : IRequestStep
{
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // pooled: no state-machine allocation per request
    public async ValueTask<bool> InvokeAsync(GatewayRequest request)
    {
        var upstream = request.Upstream;
        var context = request.HttpContext;
        if (!upstream.Definition.Enabled)
        {
            return await request.RejectAsync(GatewayError.UpstreamUnavailable);
        }

        // An event stream or a WebSocket has no end of its own: the stop ends it as if the upstream had (OpenStreams,
        // StopEndedContent), and none starts once the stop has begun — refused before a target is picked, or the trial an
        // ejected target is offered would be taken by a request that never settles it. A WebSocket handshake is one
        // whatever its route's protocol (the upgrade is the client's and the backend's to agree): tunnelled by an http or
        // http_stream route it used to hold the stop for the whole shutdown timeout. http_stream responses end by themselves, so
        // they drain like any other request.
        var endless = request.Route.Definition.Protocol is RouteProtocol.Sse or RouteProtocol.Websocket || request.Meter?.IsTunnel == true;
        if (endless && streams.Ending)
        {
            return await request.RejectAsync(GatewayError.Stopping);
        }

        // Every target ejected or failing its checks: answer at once instead of waiting on a dead backend. Nothing
        // reached a backend, so (like a rate-limit rejection) nothing is billed or recorded.
        var target = upstream.Balancer.Pick(context, request.Caller?.Key.Id, exclude: null, out var trial);
        if (target is null)
        {
            // Retry-After: a client that honours it waits for the targets rather than retrying into the 503.
            var seconds = Math.Max(1, Math.Ceiling(upstream.Balancer.SoonestBack().TotalSeconds));
            context.Response.Headers.RetryAfter = ((long)seconds).ToString(CultureInfo.InvariantCulture);
            return await request.RejectAsync(GatewayError.UpstreamUnavailable);
        }

        // http: the timeout bounds the whole exchange, a retry included (YARP's idle timer is set past it, so this
        // one decides and the answer is 504). Streaming protocols only get YARP's activity (idle) timeout, set to the
        // same value, so long-lived streams are not cut while bytes flow. The source is pooled: it goes back (reset)
        // once the exchange is over.
        var total = request.Route.Definition.Protocol == RouteProtocol.Http ? timeouts.Rent(upstream.Timeout) : null;
        if (endless)
        {
            streams.Opened();
        }

        var requestConfig = total is null ? upstream.RequestConfig : upstream.HttpRequestConfig;
        // A gRPC call (HTTP/2, application/grpc): the upstream is told what is left of the http bound (grpc-timeout), and
        // a failure after the response started ends it with a gRPC status in trailers rather than a reset stream, so the
        // reset the forwarder sends then is held back until the error is answered (Grpc/DeferredStreamReset).
        var grpc = Grpc.GrpcCalls.IsGrpcCall(context.Request);
        long? boundStarted = grpc && total is not null ? request.Environment.TimeProvider.GetTimestamp() : null;
        var deferredReset = grpc ? Grpc.DeferredStreamReset.Install(context) : null;
        // An event stream or a WebSocket through an HTTP/1.1 upstream goes on a connection of its own that holds no
        // buffer while idle (UpstreamClientPool.GetStreaming).
        var client = request.Route.Definition.Protocol is RouteProtocol.Sse or RouteProtocol.Websocket && upstream.StreamClient is { } streamClient
            ? streamClient
            : upstream.Client;
        try
        {
            ForwarderError error;
            Exception? exception;
            TargetOutcome outcome;
            while (true)
            {
                // One attempt to one target, counted in its in-flight and health state (in this method rather than a
                // helper: one async state machine per request instead of two).
                request.Target = target;
                request.Attempts++;
                target.State.Begin();
                // More exchanges with this target than its connections carry at once: this one may wait in the gateway's own
                // pool, and a timeout that fires there is not the target's failure. HTTP/1.1: max_conns connections, one
                // exchange each; HTTP/2 with max_conns: one connection (UpstreamClientPool) carrying as many streams as
                // its server stated — judged after the exchange, when a new connection's server has said (Http2StreamLimits;
                // 100, the usual limit, until then).
                // An open WebSocket counts in flight but holds no pooled connection (it left the pool at its 101).
                var inFlightAtStart = target.State.InFlight - target.State.Tunnels;
                outcome = TargetOutcome.Neutral;
                error = ForwarderError.None;
                exception = null;
                var trialRequest = trial ? new TrialRequest(target.State, upstream.Health) : null;
                try
                {
                    GrpcDeadline? grpcDeadline = boundStarted is { } started
                        ? new GrpcDeadline(upstream.Timeout, request.Environment.TimeProvider.GetElapsedTime(started), Retry: request.Attempts > 1)
                        : null;
                    // An attempt can end before it is written: waiting for a connection (max_conns), or for one being made.
                    var sent = new UpstreamHttp.SentAttempt();
                    error = await forwarder.SendAsync(context, target.Origin, client, requestConfig,
                        new ForwardingTransformer(request, options.AllowUnderscoreHeaders, responseBodies, sent, trialRequest, endless ? streams.Token : default, grpcDeadline),
                        total?.Token ?? default);
                    if (error == ForwarderError.None)
                    {
                        request.ReachedBackend = true;
                    }
                    else
                    {
                        exception = context.Features.Get<IForwarderErrorFeature>()?.Exception;
                        error = RetryRules.Attribute(error, exception);
                        // Not when no connection could be made, nor when the attempt waited for one — in the gateway's own
                        // pool (max_conns) or while it was being made — and timed out or lost its client there: no byte went
                        // out, no backend saw it.
                        request.ReachedBackend |= !RetryRules.IsConnectFailure(error, exception) && sent.Sent;
                    }

                    outcome = request.TransformFailure is not null || (endless && streams.Ending)
                        ? TargetOutcome.Neutral // the gateway's response transform failed, or its stop ended the stream: nothing to hold against the target
                        : RetryRules.Classify(error, StatusFromTarget(request), total?.IsCancellationRequested == true,
                            request.Meter?.HeldUpByClient == true || QueuedForConnection(upstream, target, inFlightAtStart));
                }
                finally
                {
                    if (request.TunnelCounted)
                    {
                        request.TunnelCounted = false;
                        target.State.TunnelClosed();
                    }

                    target.State.End(outcome, upstream.Health, outcome == TargetOutcome.Failure ? FailureReason(error, exception, request) : "", trialRequest is { Settled: false });
                }

                // At most one retry, on another target, when nothing can have been done twice.
                if (request.Attempts > 1 || error == ForwarderError.None || context.RequestAborted.IsCancellationRequested || (endless && streams.Ending)
                    || !RetryRules.CanRetry(error, exception, RetryRules.MethodAsSeenUpstream(context.Request, ForwardingTransformer.OverriddenMethod(request),
                        ForwardingTransformer.ForwardsMethodOverrideHeaders(request)),
                        request.Meter?.RequestBytesRead ?? 0, context.Response.HasStarted, request.Meter?.IsTunnel == true)
                    || total?.IsCancellationRequested == true
                    || upstream.Balancer.Pick(context, request.Caller?.Key.Id, exclude: target, out trial) is not { } next)
                {
                    break;
                }

                LogRetrying(request.RequestId, upstream.Definition.Id, target.Url, next.Url, error);
                ResetForRetry(request);
                target = next;
            }

            if (error == ForwarderError.None)
            {
                return true;
            }

            if (endless && streams.Ending && context.Response.HasStarted)
            {
                return true; // ended by the stop (OpenStreams): recorded as it went, not an upstream failure
            }

            var totalFired = total?.IsCancellationRequested == true;
            // Streaming protocols have no total bound: their idle timeout is YARP's activity timeout, which it reports
            // as UpgradeActivityTimeout (WebSocket) or as the read from the upstream being canceled.
            var timedOut = error == ForwarderError.RequestTimedOut || totalFired || error == ForwarderError.UpgradeActivityTimeout
                || (total is null && error == ForwarderError.ResponseBodyDestination && exception is OperationCanceledException);
            // The timeout fired while the gateway waited on the client: the http bound, or on a stream the idle timeout,
            // which YARP reports as the client's side failing (its body not arriving, the response or a tunnel's data not
            // being taken) — told apart from a client that went away by the cancelled wait on the client's own stream.
            var timedOutOnClient = request.Meter?.HeldUpByClient == true
                && (totalFired || (total is null && error is ForwarderError.RequestBodyClient or ForwarderError.ResponseBodyClient or ForwarderError.UpgradeActivityTimeout));
            if (outcome != TargetOutcome.Failure && !timedOutOnClient)
            {
                if (ClientFaults.WentAway(error, exception))
                {
                    // Its body's read saw the reset before the server cancelled RequestAborted: recorded as 499 (not the
                    // 400 the forwarder left), and nothing is sent on what is left of the exchange.
                    Metering.ExchangeMeter.ClientLeft(context);
                    return true;
                }

                // A tunnel's client failing either way went away too: reading from an upgraded connection involves no
                // HTTP framing the client could get wrong (it is not a malformed body), only its connection ending or
                // being reset.
                if (context.RequestAborted.IsCancellationRequested
                    || error is ForwarderError.ResponseBodyClient or ForwarderError.UpgradeResponseClient or ForwarderError.UpgradeRequestClient)
                {
                    return true; // the client went away: nobody to answer, nothing to blame
                }
            }

            if (request.TransformFailure is { } transformFailure)
            {
                LogTransformFailed(request.Route.Definition.Slug, request.RequestId, transformFailure.Message);
                return await request.RejectAsync(GatewayError.TransformError("The response transform failed."));
            }

            if (ClientFaults.Classify(error, exception, timedOutOnClient, request.Meter?.WriteHeldUpByClient == true) is { } clientFault)
            {
                // The client's own request failed (a malformed or stalled body, or the timeout fired while the gateway
                // waited on the client): its error, not the upstream's; the attempt was not counted against the
                // target and is not retried. Once the response has started this only records the error and aborts.
                LogClientFault(request.Route.Definition.Slug, request.RequestId, clientFault.Code, error);
                return await request.RejectAsync(clientFault);
            }

            // The upstream failed, before the response started (answered 502/504) or during its body (the client
            // connection is aborted; the access log and metrics still get the error, not a plain 200).
            LogForwardFailed(request.Route.Definition.Slug, upstream.Definition.Slug, request.Target?.State.Label ?? "", request.RequestId, error, timedOut,
                exception is null ? "" : FailureText.Of(exception));
            return await request.RejectAsync(timedOut ? GatewayError.UpstreamTimeout : GatewayError.UpstreamError);
        }
        finally
        {
            deferredReset?.Uninstall(context);
            if (total is not null)
            {
                timeouts.Return(total);
            }

            if (endless)
            {
                streams.Closed();
            }
        }
    }

    /// <summary>Whether an exchange started with <paramref name="inFlight"/> exchanges on the target may have waited for a connection.</summary>
    private static bool QueuedForConnection(UpstreamBinding upstream, TargetBinding target, int inFlight) =>
        upstream.Definition.MaxConns > 0 && inFlight > (upstream.Definition.HttpVersion == Core.Upstreams.UpstreamHttpVersion.Http2
            ? upstream.Http2StreamLimits?.For(target.Origin) ?? UpstreamHttp.Http2StreamLimits.Default
            : upstream.Definition.MaxConns);

    /// <summary>
    /// The status the passive checks judge the target by: the upstream's own when the gateway refused to pass on a response
    /// for a reason of its own (a <c>502 response_withheld</c> or <c>503 gateway_busy</c> after a <c>200</c> is no failure of
    /// the target: counted as one, a route whose transform cannot read large bodies ejected every healthy target).
    /// </summary>
    private static int StatusFromTarget(GatewayRequest request) =>
        request.RefusedUpstreamStatus ?? GatewayError.RecordedStatus(request.HttpContext.Response, request.Answered);

    private static string FailureReason(ForwarderError error, Exception? exception, GatewayRequest request) => error == ForwarderError.None
        ? "status " + StatusFromTarget(request).ToString(CultureInfo.InvariantCulture)
        : exception is not null ? $"{error}: {FailureText.Of(exception)}" : error.ToString();

    /// <summary>Undoes what the failed attempt set on the response (YARP's 502 status, headers) so the next one starts clean.</summary>
    private static void ResetForRetry(GatewayRequest request)
    {
        var context = request.HttpContext;
        context.Response.Clear();
        context.Response.Headers["X-Request-ID"] = request.RequestId;
        context.Features.Set<IForwarderErrorFeature>(null);
        request.Answered = null;
        request.RefusedUpstreamStatus = null;
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning,
        Message = "Forwarding request {RequestId} of route {Route} to upstream {Upstream} target {Target} failed: {Error} (timed out: {TimedOut}) {Reason}")]
    private partial void LogForwardFailed(string route, string upstream, string target, string requestId, ForwarderError error, bool timedOut, string reason);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "Request {RequestId} on route {Route} failed on the client's side ({Code}, {Error}); not counted against the upstream")]
    private partial void LogClientFault(string route, string requestId, string code, ForwarderError error);

    [LoggerMessage(EventId = 2203, Level = LogLevel.Error, Message = "Response transform of route {Route} failed for request {RequestId}: {Reason}; not counted against the upstream")]
    private partial void LogTransformFailed(string route, string requestId, string reason);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Debug, Message = "Request {RequestId} to upstream {UpstreamId}: target {Target} failed ({Error}); retrying on {NextTarget}")]
    private partial void LogRetrying(string requestId, string upstreamId, string target, string nextTarget, ForwarderError error);
}
