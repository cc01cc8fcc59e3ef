using ApiGate.Core.Metering;
using ApiGate.Core.Routing;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Metering;
using ApiGate.Gateway.Usage;
using Microsoft.Extensions.Logging;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// Meter and settle (SPEC §8): before forwarding, wraps the exchange in an <see cref="ExchangeMeter"/>; after it,
/// measures the units with the route's metering rule, settles the quota lease — committed with those units when the
/// request reached a backend, released when it reached none — and queues the usage event (off the request path). The
/// one place that decides what a request costs.
/// </summary>
internal sealed partial class MeterStep(UsageRecorder recorder, GatewayOptions options, Transforms.BufferedBodies buffered, TimeProvider timeProvider, ILogger<MeterStep> logger) : ICompletingStep
{
    private readonly int _captureLimit = (int)Math.Min(options.TransformMaxBodyBytes, int.MaxValue);

    public ValueTask<bool> InvokeAsync(GatewayRequest request)
    {
        request.Meter = ExchangeMeter.Start(request.HttpContext, request.Policies.Metering,
            countEvents: request.Route.Definition.Protocol == RouteProtocol.Sse, _captureLimit, timeProvider.GetUtcNow(), serverBody: !request.BodyReplaced, buffered);
        return ValueTask.FromResult(true);
    }

    public void OnCompleted(GatewayRequest request)
    {
        if (request.Meter is not { } meter)
        {
            return;
        }

        var context = request.HttpContext;
        var input = meter.Stop(context, request.Answered);
        if (request.Attempts > 0)
        {
            // Forwarded: the time spent on the targets is the upstream's share (UpstreamMs, and not the gateway's own in
            // apigate_gateway_duration_seconds) — also when every attempt failed to connect, which can take seconds.
            request.Exchange = new Metering.UpstreamExchange(input.DurationMs, input.RequestBytes, input.ResponseBytes);
        }

        if (!request.ReachedBackend)
        {
            // No backend saw it — refused before forwarding (upstream disabled, no healthy target), or every target
            // refused the connection: not billed, not recorded.
            request.Lease?.Release();
            return;
        }

        var (units, failure) = Meter.Measure(request.Policies.Metering, input);
        if (failure is not null)
        {
            LogMeteringFailed(request.Route.Definition.Id, request.RequestId, failure);
        }

        var caller = request.Caller;
        request.Lease?.Commit(units);
        // One metered request can run past the quota (its units are known only after it); on a plan without overage those
        // units count as used — the next request is refused — but are not overage to bill. On a plan with overage the
        // store counts the part past the limit as it adds the units (UsageEvent.OverageAbove).
        var overageAbove = caller?.AllowsOverage == true ? request.Lease?.Admitted.Limit ?? 0 : 0;

        _ = recorder.TryRecord(new UsageEvent
        {
            UserId = caller?.User.Id ?? UsageEvent.Anonymous,
            KeyId = caller?.Key.Id ?? UsageEvent.Anonymous,
            RouteId = request.Route.Definition.Id,
            UpstreamId = request.Upstream.Definition.Id,
            Method = context.Request.Method,
            Path = RequestPaths.Visible(Core.Identity.ApiKeys.RedactedPath(request.Path, options.AuthKeyPrefix)),
            Status = input.Status,
            LatencyMs = input.DurationMs,
            RequestBytes = input.RequestBytes,
            ResponseBytes = input.ResponseBytes,
            Units = units,
            OverageAbove = overageAbove,
            OverageMeter = overageAbove > 0 ? caller?.Plan.Definition.StripeMeterEvent ?? "" : "",
            ClientIp = context.Connection.RemoteIpAddress?.ToString() ?? "",
            RequestId = request.RequestId,
            Timestamp = request.Lease?.RecordedAt(meter.StartedAt) ?? meter.StartedAt,
        }); // a full queue is counted and logged by the recorder; the request is never slowed
    }

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "Metering expression of route {RouteId} failed for request {RequestId}; billed 1 unit: {Reason}")]
    private partial void LogMeteringFailed(string routeId, string requestId, string reason);
}
