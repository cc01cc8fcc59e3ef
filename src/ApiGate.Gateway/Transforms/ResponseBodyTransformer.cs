using ApiGate.Core.Transforms;
using ApiGate.Gateway.Errors;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Transforms;

/// <summary>
/// Applies a response transform's JSON body operations (SPEC §5.2) on <c>http</c> routes. Only uncompressed JSON
/// bodies up to <see cref="GatewayOptions.TransformMaxBodyBytes"/> are buffered and edited. A JSON body that cannot be
/// read (larger than the limit, or compressed) is withheld — <c>502 response_withheld</c> — when the transform removes
/// or masks fields (passing it on would hand the client exactly what the route keeps from it), and passes through
/// untouched (logged) when it only renames; a body that is not JSON passes through either way. A body being buffered
/// holds its part of <see cref="GatewayOptions.TransformMaxBufferedBytes"/> until it has been written to the client (an
/// upstream that sends half a body, or a client that does not read, keeps it); one that does not fit is refused —
/// <c>503 gateway_busy</c> — when the transform removes or masks fields, and passes through untouched when it only renames.
/// </summary>
internal sealed partial class ResponseBodyTransformer(GatewayOptions options, BufferedBodies buffered, TimeProvider timeProvider, ILogger<ResponseBodyTransformer> logger)
{
    public static readonly GatewayError Withheld = new(502, "response_withheld", "Bad Gateway",
        "The upstream's response could not be checked for the fields this route removes or masks (larger than the transform body limit, compressed, or not valid JSON), so it is not passed on.");

    public static readonly GatewayError Busy = new(503, "gateway_busy", "Service Unavailable",
        "The gateway is holding as many bodies for transforms as it may, so the upstream's response could not be checked for the fields this route removes or masks and is not passed on.");

    private readonly Core.Timing.OncePer _busyWarning = new(TimeSpan.FromMinutes(1));

    /// <summary>Writes the (transformed or original) body, or the refusal, itself and returns true; false = let YARP stream it.</summary>
    /// <param name="meter">The response as metering counts it: its capture is given the upstream's body, not the edited one.</param>
    public async Task<bool> TryTransformAsync(
        HttpContext context, HttpResponseMessage upstream, ResponseTransform transform, string routeId, string requestId, IOriginalBodyCapture? meter, CancellationToken cancellationToken)
    {
        var content = upstream.Content;
        if (!JsonBodies.IsJson(content.Headers.ContentType?.ToString()))
        {
            return false;
        }

        var compressed = content.Headers.ContentEncoding.Any(e => !e.Equals("identity", StringComparison.OrdinalIgnoreCase));
        if (compressed || content.Headers.ContentLength > options.TransformMaxBodyBytes)
        {
            return await CannotReadAsync(context, transform, routeId, requestId, compressed ? "compressed" : "larger than the transform body limit");
        }

        // Taken before a byte is read (a declared body's whole size), grown with the buffer, held until written.
        using var share = buffered.TryTake(JsonBodies.InitialBufferSize(options.TransformMaxBodyBytes, content.Headers.ContentLength));
        if (share is null)
        {
            return await RefuseBusyAsync(context, transform, routeId, requestId);
        }

        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var (body, read, overBudget) = await JsonBodies.ReadBoundedAsync(stream, options.TransformMaxBodyBytes, content.Headers.ContentLength, share, cancellationToken);
        var response = context.Response;
        if (body is null)
        {
            if (transform.HidesFields)
            {
                return overBudget
                    ? await RefuseBusyAsync(context, transform, routeId, requestId)
                    : await CannotReadAsync(context, transform, routeId, requestId, "larger than the transform body limit");
            }

            // Over the limit (chunked) or the budget: send what was read, then the rest, untouched.
            if (overBudget)
            {
                NoteBusy(routeId);
            }
            else
            {
                LogPassedThrough(routeId, requestId, "larger than the transform body limit");
            }

            response.Headers.ContentLength = null;
            await response.Body.WriteAsync(read.WrittenMemory, cancellationToken);
            await stream.CopyToAsync(response.Body, cancellationToken);
            return true;
        }

        string? notJson = null;
        var node = body.Length == 0 ? null : JsonBodies.TryParse(body, out notJson);
        if (node is null)
        {
            if (body.Length > 0)
            {
                // Declared JSON but not readable as such (malformed, too deep, a name twice): what a lenient client
                // reads from it cannot be known, so a route that hides fields does not send it.
                if (transform.HidesFields)
                {
                    return await CannotReadAsync(context, transform, routeId, requestId, "not valid JSON: " + notJson);
                }

                LogPassedThrough(routeId, requestId, "not valid JSON");
            }

            await WriteAsync(response, body, cancellationToken);
            return true;
        }

        // Metering reads what the upstream answered, not the edited body (a route that hides the field it bills by).
        meter?.CaptureInstead(body);
        transform.ApplyBody(node);
        await WriteAsync(response, JsonBodies.Serialize(node), cancellationToken);
        return true;
    }

    /// <summary>A JSON body the transform cannot read: withheld when the transform hides fields, else passed on (false).</summary>
    private async Task<bool> CannotReadAsync(HttpContext context, ResponseTransform transform, string routeId, string requestId, string reason)
    {
        if (!transform.HidesFields)
        {
            LogPassedThrough(routeId, requestId, reason);
            return false;
        }

        LogWithheld(routeId, requestId, reason);
        await GatewayErrorWriter.WriteAsync(context, Withheld);
        return true;
    }

    /// <summary>The budget for buffered bodies is full: refused when the transform hides fields, else passed on (false).</summary>
    private async Task<bool> RefuseBusyAsync(HttpContext context, ResponseTransform transform, string routeId, string requestId)
    {
        NoteBusy(routeId);
        if (!transform.HidesFields)
        {
            return false;
        }

        await GatewayErrorWriter.WriteAsync(context, Busy);
        return true;
    }

    private void NoteBusy(string routeId)
    {
        if (_busyWarning.Due(timeProvider.GetUtcNow()))
        {
            LogBusy(routeId, options.TransformMaxBufferedBytes);
        }
    }

    private static Task WriteAsync(HttpResponse response, byte[] body, CancellationToken cancellationToken)
    {
        response.Headers.Remove("Transfer-Encoding");
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, cancellationToken).AsTask();
    }

    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Response of route {RouteId} for request {RequestId} passed through untransformed: {Reason}")]
    private partial void LogPassedThrough(string routeId, string requestId, string reason);

    [LoggerMessage(EventId = 2204, Level = LogLevel.Warning, Message = "A response on route {RouteId} could not be buffered for its transform: the bodies buffered for transforms fill transform.max_buffered_bytes ({MaxBufferedBytes} bytes); such responses are refused with 503 gateway_busy where the transform removes or masks fields and passed on untransformed where it only renames; logged at most once a minute")]
    private partial void LogBusy(string routeId, long maxBufferedBytes);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Warning, Message = "Response of route {RouteId} for request {RequestId} withheld (502 response_withheld): its JSON body could not be checked for the fields the route removes or masks: {Reason}")]
    private partial void LogWithheld(string routeId, string requestId, string reason);
}
