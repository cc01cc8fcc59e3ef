using System.Text.Json.Nodes;
using ApiGate.Core.Transforms;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Transforms;
using ApiGate.Core.Routing;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// Transform the request (SPEC §1 step 3, §2.4): everything the route changes about the request is decided here, once.
/// The path rewrite gives the upstream path; the request-transform blocks that apply are chosen (conditions evaluated
/// once) — their header and query operations are written onto the outgoing request by the forwarding transformer,
/// after the gateway's own header rules; a JSON body edit buffers the body (up to
/// <see cref="GatewayOptions.TransformMaxBodyBytes"/>), edits it and replaces it with a correct Content-Length.
/// Requests without body operations are never buffered.
/// </summary>
internal sealed partial class RequestTransformStep(GatewayOptions options, BufferedBodies buffered, TimeProvider timeProvider, ILogger<RequestTransformStep> logger) : IRequestStep
{
    // A client that fills the budget gets one refusal per request: the log says so once a minute, not once a request.
    private readonly Core.Timing.OncePer _busyWarning = new(TimeSpan.FromMinutes(1));

    public static readonly GatewayError TooLarge = new(413, "request_too_large", "Content Too Large", "The request body is larger than the gateway buffers for a body transform.");

    /// <summary>
    /// A body with a content coding (<c>gzip</c>, <c>br</c>): the transform cannot read it, and refused as "not valid JSON:
    /// not UTF-8" the client was told the wrong thing. RFC 9110 §15.5.16: 415 for a content coding the server does not take.
    /// </summary>
    public static readonly GatewayError Compressed = new(415, "unsupported_media_type", "Unsupported Media Type",
        "The request body is compressed (it has a Content-Encoding), and this route's body transform edits only an uncompressed JSON body: send it without one.");

    /// <summary>A body whose <c>Content-Type</c> names more than one media type (two fields, or a list in one): a singleton field (RFC 9110 §8.3).</summary>
    public static readonly GatewayError SeveralMediaTypes = new(400, "bad_request", "Bad Request",
        "The request's Content-Type names more than one media type; this route's body transform needs one.");

    /// <summary>
    /// True for two <c>Content-Type</c> fields, or a comma in the media type of one (<c>application/json, text/plain</c>);
    /// a comma inside the parameters (a quoted boundary) does not count.
    /// </summary>
    private static bool HasSeveralMediaTypes(Microsoft.Extensions.Primitives.StringValues contentType)
    {
        if (contentType.Count > 1)
        {
            return true;
        }

        var value = contentType.Count == 1 ? (contentType[0] ?? "").AsSpan() : default;
        var semicolon = value.IndexOf(';');
        return (semicolon < 0 ? value : value[..semicolon]).Contains(',');
    }

    /// <summary>The bodies being buffered for transforms fill <see cref="GatewayOptions.TransformMaxBufferedBytes"/>.</summary>
    public static readonly GatewayError Busy = new(503, "gateway_busy", "Service Unavailable",
        "The gateway is holding as many request bodies for transforms as it may; nothing was forwarded. Retry shortly.")
    {
        ClosesConnection = true,
    };

    public ValueTask<bool> InvokeAsync(GatewayRequest request)
    {
        if (request.Route.Rewriter is { } rewriter)
        {
            try
            {
                _ = rewriter.Rewrite(request.Match, request, request.RawPath, out var wire);
                request.UpstreamPath = wire;
            }
            catch (RewriteException ex) when (ex.FromRequestValues)
            {
                // What the client sent (a capture, a query or header value) made the path unusable: its error, not the route's.
                LogRewriteRefused(request.Route.Definition.Id, request.RequestId, ex.Message);
                return request.RejectAsync(new GatewayError(400, "invalid_path", "Bad Request",
                    $"The request cannot be forwarded: with the values this request gave it, the route's path rewrite produced a path that is refused ({ex.Message}). See Path safety in docs/routing.md."));
            }
            catch (RewriteException ex)
            {
                LogRewriteFailed(request.Route.Definition.Id, request.RequestId, ex.Message);
                return request.RejectAsync(GatewayError.TransformError("Path rewrite failed: " + ex.Message));
            }
        }

        var transform = request.Policies.Request;
        if (transform is null)
        {
            return ValueTask.FromResult(true);
        }

        var operations = transform.Applicable(request);
        request.RequestOperations = operations;
        foreach (var operation in operations)
        {
            // A header value made from what the client sent (${query.name}) is held to the rule of the client's own
            // headers: a control character (CR LF would start another header, or another request) refuses the request.
            if (operation.Headers.FirstRenderedWith(request, RequestGuard.ControlCharacters) is { } header)
            {
                return request.RejectAsync(RequestGuard.InvalidHeader(header) with
                {
                    Detail = $"The request cannot be forwarded: with the values this request gave it, the route's request transform set the {header} header to a value with a control character. See Headers in docs/forwarding.md.",
                });
            }
        }

        if (!operations.Any(o => o.HasBodyOperations) || request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
        {
            return ValueTask.FromResult(true);
        }

        if (HasSeveralMediaTypes(request.HttpContext.Request.Headers.ContentType))
        {
            // Neither JSON nor not JSON: passed on untouched, a backend that looks for "/json" in the header (Laravel's
            // isJson) would read the client's body as JSON without the transform's edits.
            return request.RejectAsync(SeveralMediaTypes);
        }

        if (!JsonBodies.IsJson(request.HttpContext.Request.ContentType))
        {
            // Non-JSON bodies stream through untouched. A request without a body (a GET, Content-Length: 0) has none to
            // edit, even with a JSON Content-Type: given one here, it was forwarded with a Content-Length and no bytes (502).
            return ValueTask.FromResult(true);
        }

        return TransformBodyAsync(request, operations);
    }

    private async ValueTask<bool> TransformBodyAsync(GatewayRequest request, RequestOperations[] operations)
    {
        var http = request.HttpContext.Request;
        if (RequestGuard.NamesCodingOtherThan(http.Headers.ContentEncoding, "identity", out _))
        {
            return await request.RejectAsync(Compressed);
        }

        if (http.ContentLength > options.TransformMaxBodyBytes)
        {
            return await request.RejectAsync(TooLarge);
        }

        // The buffer's first size is taken before a byte is read (a declared body's whole size), what it grows by as it
        // grows, and all of it is held until the request ends (the edited body is forwarded from memory).
        var share = buffered.TryTake(JsonBodies.InitialBufferSize(options.TransformMaxBodyBytes, http.ContentLength));
        if (share is null)
        {
            return await RefuseBusyAsync(request);
        }

        request.HttpContext.Response.RegisterForDispose(share);

        byte[]? body;
        try
        {
            bool overBudget;
            (body, _, overBudget) = await JsonBodies.ReadBoundedAsync(http.Body, options.TransformMaxBodyBytes, http.ContentLength, share, request.HttpContext.RequestAborted);
            if (overBudget)
            {
                return await RefuseBusyAsync(request);
            }
        }
        catch (BadHttpRequestException ex) when (!Errors.ClientFaults.EndedWithTheConnection(ex))
        {
            // The client's body is malformed, too large or came too slowly (the server refused it as it was read): the
            // client's error, answered as on every route (docs/forwarding.md, "Client faults"), not an unhandled 500.
            LogBodyRefused(request.Route.Definition.Id, request.RequestId, ex.StatusCode);
            return await request.RejectAsync(Errors.ClientFaults.OfBody(ex));
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // The client went away while sending its body (a reset, an abort, or its connection closed before the body's
            // end, which the server refuses as a BadHttpRequestException, an IOException): nobody to answer (recorded as
            // 499), nothing was forwarded.
            Metering.ExchangeMeter.ClientLeft(request.HttpContext);
            return false;
        }

        if (body is null)
        {
            return await request.RejectAsync(TooLarge);
        }

        if (body.Length == 0)
        {
            return true; // a chunked body of no bytes: as one with Content-Length: 0, nothing to edit, forwarded as it came
        }

        var node = JsonBodies.TryParse(body, out var error);
        if (node is not JsonObject json)
        {
            return await request.RejectAsync(new GatewayError(400, "bad_request", "Bad Request",
                node is not null ? "The request body must be a JSON object for this route's body transform."
                : error == JsonBodies.NotUtf8 ? "The request body is not valid JSON: it is not UTF-8."
                : "The request body is not valid JSON."));
        }

        foreach (var operation in operations)
        {
            operation.ApplyBody(json, request);
        }

        var bytes = JsonBodies.Serialize(json);
        http.Body = new MemoryStream(bytes, writable: false);
        request.BodyReplaced = true;
        http.ContentLength = bytes.Length;
        http.Headers.Remove("Transfer-Encoding");
        return true;
    }

    private ValueTask<bool> RefuseBusyAsync(GatewayRequest request)
    {
        if (_busyWarning.Due(timeProvider.GetUtcNow()))
        {
            LogBusy(request.Route.Definition.Id, options.TransformMaxBufferedBytes);
        }

        return request.RejectAsync(Busy);
    }

    [LoggerMessage(EventId = 2004, Level = LogLevel.Warning, Message = "A request body on route {RouteId} was refused with 503 gateway_busy: the bodies buffered for transforms fill transform.max_buffered_bytes ({MaxBufferedBytes} bytes); logged at most once a minute")]
    private partial void LogBusy(string routeId, long maxBufferedBytes);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information, Message = "Request {RequestId} on route {RouteId}: the server refused the request body being read for the body transform (status {Status}); answered as the client's error")]
    private partial void LogBodyRefused(string routeId, string requestId, int status);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Warning, Message = "Path rewrite of route {RouteId} failed for request {RequestId}: {Reason}")]
    private partial void LogRewriteFailed(string routeId, string requestId, string reason);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Debug, Message = "Path rewrite of route {RouteId} refused the values of request {RequestId}: {Reason}")]
    private partial void LogRewriteRefused(string routeId, string requestId, string reason);
}
