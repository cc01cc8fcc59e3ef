using System.Diagnostics;
using ApiGate.Core.Identity;
using ApiGate.Gateway.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// Instruments every request the pipeline handles (not the reserved endpoints) in one place: the pipeline calls
/// <see cref="Begin"/> when a request enters and <see cref="End"/> in a <c>finally</c> when it leaves — metrics, the access-log line and the span end.
/// It reads what the pipeline left on the context: the <see cref="IObservedRequest"/> (route, upstream, caller, the
/// forwarder's <see cref="UpstreamExchange"/>) and the <see cref="GatewayError"/> the gateway answered with, if any.
/// </summary>
internal sealed class RequestTelemetry
{
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _accessLog;
    private readonly bool _accessLogEnabled;
    private readonly string _keyPrefix;

    public RequestTelemetry(GatewayMetrics metrics, ILoggerFactory loggerFactory, GatewayOptions options)
    {
        _metrics = metrics;
        _accessLog = loggerFactory.CreateLogger(AccessLog.Category);
        _accessLogEnabled = options.AccessLog;
        _keyPrefix = options.AuthKeyPrefix;
    }

    /// <summary>Notes the start time and starts the span (null when tracing is off).</summary>
    public RequestScope Begin(HttpContext context) => new(Stopwatch.GetTimestamp(), GatewayTracing.StartRequest(context, _keyPrefix));

    /// <summary>Records the finished request; <paramref name="completed"/> is false when the pipeline threw.</summary>
    public void End(HttpContext context, in RequestScope scope, bool completed)
    {
        var totalSeconds = Stopwatch.GetElapsedTime(scope.Started).TotalSeconds;
        var request = context.Features.Get<IObservedRequest>();
        var error = context.Features.Get<GatewayError>();
        var exchange = request?.Exchange;
        var outcome = new RequestOutcome(
            request?.RouteSlug ?? "",
            request?.UpstreamSlug ?? "",
            context.Request.Method,
            // An exception before the response started becomes a 500 once it leaves the pipeline.
            completed || context.Response.HasStarted ? Metering.ExchangeMeter.StatusOf(context, error) : StatusCodes.Status500InternalServerError,
            totalSeconds,
            (exchange?.DurationMs ?? 0) / 1000,
            error?.Code,
            request?.TargetLabel ?? "",
            request?.Attempts ?? 0);

        _metrics.RecordRequest(outcome);
        var requestId = request?.RequestId ?? context.Response.Headers["X-Request-ID"].ToString();
        if (_accessLogEnabled && _accessLog.IsEnabled(LogLevel.Information))
        {
            AccessLog.Write(_accessLog, new AccessLogEntry
            {
                RequestId = requestId,
                Method = context.Request.Method,
                Path = Core.Routing.RequestPaths.Visible(ApiKeys.RedactedPath(context.Request.Path.Value ?? "/", _keyPrefix)),
                Route = outcome.Route,
                Upstream = outcome.Upstream,
                Target = outcome.Target,
                Attempts = outcome.Attempts,
                UserId = request?.UserId ?? "",
                KeyId = request?.KeyId ?? "",
                Status = outcome.Status,
                BytesIn = exchange?.BytesIn ?? 0,
                BytesOut = exchange?.BytesOut ?? context.Response.ContentLength ?? 0,
                DurationMs = Math.Round(totalSeconds * 1000, 3),
                UpstreamMs = Math.Round(exchange?.DurationMs ?? 0, 3),
                ClientIp = context.Connection.RemoteIpAddress?.ToString() ?? "",
                Error = outcome.ErrorCode ?? "",
                TraceId = scope.Activity?.TraceId.ToHexString() ?? "",
            });
        }

        if (scope.Activity is { } activity)
        {
            GatewayTracing.StopRequest(activity, outcome, requestId);
        }
    }
}

/// <summary>What <see cref="RequestTelemetry.Begin"/> hands back for <see cref="RequestTelemetry.End"/>.</summary>
internal readonly record struct RequestScope(long Started, Activity? Activity);
