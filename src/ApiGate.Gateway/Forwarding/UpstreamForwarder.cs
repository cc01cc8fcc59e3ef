using ApiGate.Core.Routing;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Pipeline;
using Microsoft.Extensions.Logging;
using Yarp.ReverseProxy.Forwarder;

namespace ApiGate.Gateway.Forwarding;

/// <summary>
/// Sends a <see cref="GatewayRequest"/> to its upstream through YARP's <see cref="IHttpForwarder"/> (streaming both
/// ways, WebSocket upgrades, hop-by-hop handling) and maps forwarding failures to SPEC §1.2 errors.
/// </summary>
internal sealed partial class UpstreamForwarder(IHttpForwarder forwarder, ILogger<UpstreamForwarder> logger)
{
    public async ValueTask ForwardAsync(GatewayRequest request)
    {
        var upstream = request.Upstream;
        var context = request.HttpContext;
        if (!upstream.Definition.Enabled)
        {
            await GatewayErrorWriter.WriteAsync(context, GatewayError.UpstreamUnavailable);
            return;
        }

        var protocol = request.Route.Definition.Protocol;

        // http: the timeout bounds the whole exchange. Streaming protocols only get YARP's activity (idle) timeout,
        // which is set to the same value, so long-lived streams are not cut while bytes flow.
        using var total = protocol == RouteProtocol.Http ? new CancellationTokenSource(upstream.Timeout) : null;
        var error = await forwarder.SendAsync(
            context, upstream.Origin, upstream.Client, upstream.RequestConfig(protocol), new ForwardingTransformer(request), total?.Token ?? default);

        if (error == ForwarderError.None)
        {
            return;
        }

        if (context.RequestAborted.IsCancellationRequested)
        {
            return; // the client left; nothing to answer
        }

        var timedOut = error == ForwarderError.RequestTimedOut || total?.IsCancellationRequested == true;
        LogForwardFailed(request.Route.Definition.Id, upstream.Definition.Id, request.RequestId, error, timedOut,
            context.Features.Get<IForwarderErrorFeature>()?.Exception?.Message ?? "");
        ClientHeaders.Apply(context.Response.Headers, request);
        await GatewayErrorWriter.WriteAsync(context, timedOut ? GatewayError.UpstreamTimeout : GatewayError.UpstreamError);
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning,
        Message = "Forwarding request {RequestId} of route {RouteId} to upstream {UpstreamId} failed: {Error} (timed out: {TimedOut}) {Reason}")]
    private partial void LogForwardFailed(string routeId, string upstreamId, string requestId, ForwarderError error, bool timedOut, string reason);
}
