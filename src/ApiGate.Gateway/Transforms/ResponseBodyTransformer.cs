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
/// untouched (logged) when it only renames; a body that is not JSON passes through either way.
/// </summary>
internal sealed partial class ResponseBodyTransformer(GatewayOptions options, ILogger<ResponseBodyTransformer> logger)
{
    public static readonly GatewayError Withheld = new(502, "response_withheld", "Bad Gateway",
        "The upstream's response could not be checked for the fields this route removes or masks (larger than the transform body limit, or compressed), so it is not passed on.");

    /// <summary>Writes the (transformed or original) body, or the refusal, itself and returns true; false = let YARP stream it.</summary>
    public async Task<bool> TryTransformAsync(HttpContext context, HttpResponseMessage upstream, ResponseTransform transform, string routeId, string requestId, CancellationToken cancellationToken)
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

        await using var stream = await content.ReadAsStreamAsync(cancellationToken);
        var (body, read, _) = await JsonBodies.ReadBoundedAsync(stream, options.TransformMaxBodyBytes, content.Headers.ContentLength, null, cancellationToken);
        var response = context.Response;
        if (body is null)
        {
            if (transform.HidesFields)
            {
                return await CannotReadAsync(context, transform, routeId, requestId, "larger than the transform body limit");
            }

            // Chunked and over the limit: send what was read, then the rest, untouched.
            LogPassedThrough(routeId, requestId, "larger than the transform body limit");
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

    private static Task WriteAsync(HttpResponse response, byte[] body, CancellationToken cancellationToken)
    {
        response.Headers.Remove("Transfer-Encoding");
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, cancellationToken).AsTask();
    }

    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "Response of route {RouteId} for request {RequestId} passed through untransformed: {Reason}")]
    private partial void LogPassedThrough(string routeId, string requestId, string reason);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Warning, Message = "Response of route {RouteId} for request {RequestId} withheld (502 response_withheld): its JSON body could not be checked for the fields the route removes or masks: {Reason}")]
    private partial void LogWithheld(string routeId, string requestId, string reason);
}
