using System.Text.Json;
using ApiGate.Gateway.Grpc;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Errors;

/// <summary>Writes <see cref="GatewayError"/>s as <c>application/vnd.api+json</c> documents (to a gRPC call: as a gRPC status).</summary>
internal static class GatewayErrorWriter
{
    public const string ContentType = "application/vnd.api+json";

    private static readonly JsonWriterOptions WriterOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Writes the error unless the response has already started (then the connection is aborted instead, or a gRPC call
    /// the upstream failed mid-stream ends with its status in trailers). A gRPC call (<see cref="GrpcCalls.IsGrpcCall"/>)
    /// gets the error as a gRPC status (<see cref="GrpcErrors"/>), everything else a JSON:API document.
    /// </summary>
    public static async ValueTask WriteAsync(HttpContext context, GatewayError error)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            context.Features.Set(error); // for metrics and the access log
            if (!await GrpcErrors.TryEndStartedAsync(context, error))
            {
                context.Abort();
            }

            return;
        }

        var grpc = GrpcCalls.IsGrpcCall(context.Request);
        // For metrics, the access log and usage, which record the error's status also when a gRPC call gets it with 200.
        context.Features.Set(grpc ? error with { AnsweredAsGrpc = true } : error);

        // Keep what the gateway itself set (request id, limit headers); drop anything else.
        List<KeyValuePair<string, Microsoft.Extensions.Primitives.StringValues>>? kept = null;
        foreach (var header in response.Headers)
        {
            if (GatewayHeaders.IsGatewayHeader(header.Key))
            {
                (kept ??= []).Add(header);
            }
        }

        response.Clear();
        if (kept is not null)
        {
            foreach (var (name, value) in kept)
            {
                response.Headers[name] = value;
            }
        }

        response.StatusCode = error.Status;
        if (error.Allow is { } allow)
        {
            response.Headers.Allow = allow;
        }

        if (error.WwwAuthenticate is { } challenge)
        {
            response.Headers.WWWAuthenticate = challenge;
        }

        if (grpc)
        {
            GrpcErrors.WriteTrailersOnly(response, error);
            return;
        }

        if (error.ClosesConnection && (HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol)))
        {
            // Also keeps the server from draining a body it can no longer read (a cancelled read leaves it unusable).
            response.Headers.Connection = "close";
        }

        response.ContentType = ContentType;
        response.Headers.CacheControl = "no-store";
        // Read as what it says, never sniffed into a page: so the detail's text (which may quote the request) is written
        // as it reads, ' and & included, not as \u0027 escapes a client would have to undo — as the admin API writes its errors.
        response.Headers.XContentTypeOptions = "nosniff";
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            writer.WriteStartArray("errors");
            writer.WriteStartObject();
            writer.WriteString("status", error.Status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            writer.WriteString("code", error.Code);
            writer.WriteString("title", error.Title);
            writer.WriteString("detail", error.Detail);
            writer.WriteEndObject();
            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        response.ContentLength = buffer.WrittenCount;
        try
        {
            await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            // the client went away
        }
    }
}
