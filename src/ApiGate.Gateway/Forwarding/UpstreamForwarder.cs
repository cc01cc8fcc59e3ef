using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using ApiGate.Core.Metering;
using ApiGate.Core.Routing;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Limits;
using ApiGate.Gateway.Metering;
using ApiGate.Gateway.Pipeline;
using ApiGate.Gateway.Usage;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace ApiGate.Gateway.Forwarding;

/// <summary>
/// Sends a <see cref="GatewayRequest"/> to its upstream through YARP's <see cref="IHttpForwarder"/> (streaming both
/// ways, WebSocket upgrades, hop-by-hop handling), maps forwarding failures to SPEC §1.2 errors, and meters the
/// exchange (SPEC §8): bytes both ways, SSE events and WebSocket messages are counted as they pass, units are computed
/// when the exchange ends, and a usage event is queued off the request path.
/// </summary>
internal sealed partial class UpstreamForwarder(
    IHttpForwarder forwarder,
    UsageRecorder recorder,
    QuotaCounters quotas,
    GatewayOptions options,
    TimeProvider timeProvider,
    ILogger<UpstreamForwarder> logger)
{
    /// <summary>Metering expressions that failed (the request was billed 1 unit instead).</summary>
    public long MeteringFailures;

    public async ValueTask ForwardAsync(GatewayRequest request)
    {
        var upstream = request.Upstream;
        var context = request.HttpContext;
        if (!upstream.Definition.Enabled)
        {
            await GatewayErrorWriter.WriteAsync(context, GatewayError.UpstreamUnavailable);
            return;
        }

        // Every target ejected or failing its checks: answer at once instead of waiting on a dead backend. Nothing
        // reached a backend, so (like a rate-limit rejection) the quota unit is given back and no usage is recorded.
        var target = upstream.Balancer.Pick(request, exclude: null, out var trial);
        if (target is null)
        {
            request.RefundQuota(quotas);
            await request.RejectAsync(GatewayError.UpstreamUnavailable);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        var startedAt = timeProvider.GetUtcNow();
        var protocol = request.Route.Definition.Protocol;
        var rule = request.Policies.Metering;
        var captureLimit = (int)Math.Min(options.TransformMaxBodyBytes, int.MaxValue);

        // Count what crosses the gateway without holding it: wrappers pass every byte straight on.
        var requestBody = context.Request.Body;
        var responseBody = context.Response.Body;
        var requestMeter = new MeteredStream(requestBody, countEvents: false, rule.NeedsRequestBody ? captureLimit : 0);
        var responseMeter = new MeteredStream(responseBody, countEvents: protocol == RouteProtocol.Sse, rule.NeedsResponseBody ? captureLimit : 0);
        context.Request.Body = requestMeter;
        context.Response.Body = responseMeter;
        CountingUpgradeFeature? upgrade = null;
        if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgradeFeature)
        {
            upgrade = new CountingUpgradeFeature(upgradeFeature);
            context.Features.Set<IHttpUpgradeFeature>(upgrade);
        }

        try
        {
            // http: the timeout bounds the whole exchange, a retry included. Streaming protocols only get YARP's
            // activity (idle) timeout, which is set to the same value, so long-lived streams are not cut while bytes flow.
            using var total = protocol == RouteProtocol.Http ? new CancellationTokenSource(upstream.Timeout) : null;
            var error = await SendToAsync(request, target, trial, total);
            if (error != ForwarderError.None && !context.RequestAborted.IsCancellationRequested
                && RetryRules.CanRetry(error, context.Features.Get<IForwarderErrorFeature>()?.Exception, context.Request.Method, requestMeter.Bytes,
                    context.Response.HasStarted, upgrade is not null)
                && total?.IsCancellationRequested != true
                && upstream.Balancer.Pick(request, exclude: target, out trial) is { } next)
            {
                LogRetrying(request.RequestId, upstream.Definition.Id, target.Url, next.Url, error);
                ResetForRetry(request);
                error = await SendToAsync(request, next, trial, total);
            }

            if (error != ForwarderError.None && !context.RequestAborted.IsCancellationRequested
                && ClientFaults.Classify(error, context.Features.Get<IForwarderErrorFeature>()?.Exception) is { } clientFault)
            {
                // The client's own request failed (a malformed or stalled body): its error, not the upstream's; the
                // attempt was not counted against the target and is not retried.
                LogClientFault(request.Route.Definition.Slug, request.RequestId, clientFault.Code, error);
                await request.RejectAsync(clientFault);
            }
            else if (error != ForwarderError.None && !context.RequestAborted.IsCancellationRequested)
            {
                var timedOut = error == ForwarderError.RequestTimedOut || total?.IsCancellationRequested == true;
                LogForwardFailed(request.Route.Definition.Slug, upstream.Definition.Slug, request.Target?.State.Label ?? "", request.RequestId, error, timedOut,
                    context.Features.Get<IForwarderErrorFeature>()?.Exception?.Message ?? "");
                await request.RejectAsync(timedOut ? GatewayError.UpstreamTimeout : GatewayError.UpstreamError);
            }
        }
        finally
        {
            context.Request.Body = requestBody;
            context.Response.Body = responseBody;
            Record(request, rule, started, startedAt, requestMeter, responseMeter, upgrade?.Stream);
        }
    }

    /// <summary>One forwarding attempt to one target, counted in its in-flight and health state.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))] // pooled: no state-machine allocation per request
    private async ValueTask<ForwarderError> SendToAsync(GatewayRequest request, TargetBinding target, bool trial, CancellationTokenSource? total)
    {
        var context = request.HttpContext;
        var upstream = request.Upstream;
        request.Target = target;
        request.Attempts++;
        target.State.Begin();
        var outcome = TargetOutcome.Neutral;
        var error = ForwarderError.None;
        var trialRequest = trial ? new TrialRequest(target.State, upstream.Health) : null;
        try
        {
            error = await forwarder.SendAsync(context, target.Origin, upstream.Client, upstream.RequestConfig, new ForwardingTransformer(request, options.AllowUnderscoreHeaders, trialRequest), total?.Token ?? default);
            outcome = RetryRules.Classify(error, context.Response.StatusCode, context.RequestAborted.IsCancellationRequested, total?.IsCancellationRequested == true);
            return error;
        }
        finally
        {
            target.State.End(outcome, upstream.Health, outcome == TargetOutcome.Failure ? FailureReason(error, context) : "", trialRequest is { Settled: false });
        }
    }

    private static string FailureReason(ForwarderError error, HttpContext context) => error == ForwarderError.None
        ? "status " + context.Response.StatusCode.ToString(CultureInfo.InvariantCulture)
        : context.Features.Get<IForwarderErrorFeature>()?.Exception?.Message is { } message ? $"{error}: {message}" : error.ToString();

    /// <summary>Undoes what the failed attempt set on the response (YARP's 502 status, headers) so the next one starts clean.</summary>
    private static void ResetForRetry(GatewayRequest request)
    {
        var context = request.HttpContext;
        context.Response.Clear();
        context.Response.Headers["X-Request-ID"] = request.RequestId;
        context.Features.Set<IForwarderErrorFeature>(null);
    }

    private void Record(GatewayRequest request, MeteringRule rule, long started, DateTimeOffset startedAt, MeteredStream requestMeter, MeteredStream responseMeter, WebSocketCountingStream? socket)
    {
        var context = request.HttpContext;
        var durationMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var requestBytes = requestMeter.Bytes + (socket?.BytesFromClient ?? 0);
        var responseBytes = responseMeter.Bytes + (socket?.BytesToClient ?? 0);
        request.Exchange = new Observability.UpstreamExchange(durationMs, requestBytes, responseBytes);
        var input = new MeteringInput
        {
            Status = context.Response.StatusCode,
            RequestBytes = requestBytes,
            ResponseBytes = responseBytes,
            DurationMs = durationMs,
            SseEvents = responseMeter.Events,
            WsMessages = socket?.Messages ?? 0,
            RequestBody = requestMeter.Captured ?? default,
            ResponseBody = responseMeter.Captured ?? default,
        };
        var (units, failure) = Meter.Measure(rule, input);
        if (failure is not null)
        {
            Interlocked.Increment(ref MeteringFailures);
            LogMeteringFailed(request.Route.Definition.Id, request.RequestId, failure);
        }

        var caller = request.Caller;
        var overage = 0L;
        if (caller is not null && request.Quota is { Allowed: true } admitted)
        {
            // Admission took one unit; the metered count replaces it. The event carries the units to the stored quota.
            overage = quotas.Settle(caller.User.Id, admitted, units, caller.Plan.Definition.RequestsPerMonth);
        }

        var recorded = recorder.TryRecord(new UsageEvent
        {
            UserId = caller?.User.Id ?? UsageEvent.Anonymous,
            KeyId = caller?.Key.Id ?? UsageEvent.Anonymous,
            RouteId = request.Route.Definition.Id,
            UpstreamId = request.Upstream.Definition.Id,
            Method = context.Request.Method,
            Path = request.Path,
            Status = context.Response.StatusCode,
            LatencyMs = durationMs,
            RequestBytes = requestBytes,
            ResponseBytes = responseBytes,
            Units = units,
            OverageUnits = overage,
            ClientIp = context.Connection.RemoteIpAddress?.ToString() ?? "",
            RequestId = request.RequestId,
            Timestamp = startedAt,
        });
        _ = recorded; // a full queue is counted and logged by the recorder; the request is never slowed
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning,
        Message = "Forwarding request {RequestId} of route {Route} to upstream {Upstream} target {Target} failed: {Error} (timed out: {TimedOut}) {Reason}")]
    private partial void LogForwardFailed(string route, string upstream, string target, string requestId, ForwarderError error, bool timedOut, string reason);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "Request {RequestId} on route {Route} failed on the client's side ({Code}, {Error}); not counted against the upstream")]
    private partial void LogClientFault(string route, string requestId, string code, ForwarderError error);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Debug, Message = "Request {RequestId} to upstream {UpstreamId}: target {Target} failed ({Error}); retrying on {NextTarget}")]
    private partial void LogRetrying(string requestId, string upstreamId, string target, string nextTarget, ForwarderError error);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Metering expression of route {RouteId} failed for request {RequestId}; billed 1 unit: {Reason}")]
    private partial void LogMeteringFailed(string routeId, string requestId, string reason);
}
