using ApiGate.Core.Transforms;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Transforms;

/// <summary>
/// Applies a response transform's JSON body operations (SPEC §5.2) on <c>http</c> routes. Only uncompressed JSON
/// bodies up to <see cref="GatewayOptions.TransformMaxBodyBytes"/> are buffered and edited; larger or invalid ones
/// pass through untouched (logged), so a transform can never break a response.
/// </summary>
internal sealed partial class ResponseBodyTransformer(GatewayOptions options, ILogger<ResponseBodyTransformer> logger)
{
    /// <summary>Writes the (transformed or original) body itself and returns true; false = let YARP stream it.</summary>
    public async Task<bool> TryTransformAsync(HttpContext context, HttpResponseMessage upstream, ResponseTransform transform, string routeId, string requestId, CancellationToken cancellationToken)
    {
        var content = upstream.Content;
        if (!JsonBodies.IsJson(content.Headers.ContentType?.ToString())
            || content.Headers.ContentEncoding.Any(e => !e.Equals("identity", StringComparison.OrdinalIgnoreCase))
            || content.Headers.ContentLength > options.TransformMaxBodyBytes)
        {
            if (content.Headers.ContentLength > options.TransformMaxBodyBytes)
            {
                LogPassedThrough(routeId, requestId, "larger than the transform body limit");
            }

            return false;
        }

        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var (body, read) = await JsonBodies.ReadBoundedAsync(stream, options.TransformMaxBodyBytes, cancellationToken);
        var response = context.Response;
        if (body is null)
        {
            // Chunked and over the limit: send what was read, then the rest, untouched.
            LogPassedThrough(routeId, requestId, "larger than the transform body limit");
            response.Headers.ContentLength = null;
            await response.Body.WriteAsync(read.WrittenMemory, cancellationToken);
            await stream.CopyToAsync(response.Body, cancellationToken);
            return true;
        }

        var node = body.Length == 0 ? null : JsonBodies.TryParse(body, out _);
        if (node is null)
        {
            if (body.Length > 0)
            {
                LogPassedThrough(routeId, requestId, "not valid JSON");
            }

            await WriteAsync(response, body, cancellationToken);
            return true;
        }

        transform.ApplyBody(node);
        await WriteAsync(response, JsonBodies.Serialize(node), cancellationToken);
        return true;
    }

    private static Task WriteAsync(HttpResponse response, byte[] body, CancellationToken cancellationToken)
    {
        response.Headers.Remove("Transfer-Encoding");
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, cancellationToken).AsTask();
    }

    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Response of route {RouteId} for request {RequestId} passed through untransformed: {Reason}")]
    private partial void LogPassedThrough(string routeId, string requestId, string reason);
}
