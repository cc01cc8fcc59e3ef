using System.Globalization;
using ApiGate.Gateway.Grpc;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace ApiGate.Gateway.Errors;

/// <summary>
/// The gateway's own errors as a gRPC client reads them (docs/forwarding.md, "gRPC"): before the response started, a
/// trailers-only response (HTTP 200, <c>content-type: application/grpc</c>, <c>grpc-status</c> and <c>grpc-message</c> in
/// the headers, no body); after it started — an upstream that timed out or failed mid-stream — the status in trailers
/// that end the response, instead of a reset stream the client can only report as <c>INTERNAL</c> or <c>CANCELLED</c>.
/// </summary>
internal static class GrpcErrors
{
    private const string StatusHeader = "grpc-status";
    private const string MessageHeader = "grpc-message";

    /// <summary>
    /// The gRPC status a gateway error is answered with. Not the gRPC HTTP-status mapping clients apply to a plain HTTP
    /// answer (which reads a <c>429</c> as <c>UNAVAILABLE</c>, retried at once, and a <c>402</c> as <c>UNKNOWN</c>): what
    /// each refusal means.
    /// </summary>
    public static GrpcStatusCode StatusOf(GatewayError error) => error switch
    {
        { Code: "response_withheld" } => GrpcStatusCode.Internal, // the upstream answered; asking again gets the same answer
        { Status: 400 } => GrpcStatusCode.InvalidArgument,
        { Status: 401 } => GrpcStatusCode.Unauthenticated,
        { Status: 402 or 413 or 429 } => GrpcStatusCode.ResourceExhausted,
        { Status: 403 } => GrpcStatusCode.PermissionDenied,
        { Status: 404 or 405 or 501 } => GrpcStatusCode.Unimplemented,
        { Status: 408 or 504 } => GrpcStatusCode.DeadlineExceeded,
        { Status: 500 } => GrpcStatusCode.Internal,
        { Status: 502 or 503 } => GrpcStatusCode.Unavailable,
        _ => GrpcStatusCode.Unknown,
    };

    /// <summary>
    /// Turns a response whose headers are not sent yet (cleared, the gateway's own headers kept) into the trailers-only
    /// answer to <paramref name="error"/>; the server sends it, with the end of the stream, when the request ends.
    /// </summary>
    public static void WriteTrailersOnly(HttpResponse response, GatewayError error)
    {
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers[StatusHeader] = StatusText(error);
        response.Headers[MessageHeader] = GrpcMessage.Encode(error.Detail);
    }

    /// <summary>
    /// Ends a gRPC call whose response already started with the upstream's failure as its status — <c>upstream_timeout</c>
    /// (<c>DEADLINE_EXCEEDED</c>) or <c>upstream_error</c> (<c>UNAVAILABLE</c>) — in trailers, after what was sent so far;
    /// likewise a timeout that fired while the gateway waited for the client's next request message (a bidirectional or
    /// client-streaming call whose client had nothing to send: <c>DEADLINE_EXCEEDED</c>), as that client still reads.
    /// False, with the reset the forwarder asked for done, when it cannot: not a gRPC call, another error (a client that
    /// does not read the response or went away gets no trailers it would not read), or a response without trailers (HTTP/1.x).
    /// </summary>
    public static async ValueTask<bool> TryEndStartedAsync(HttpContext context, GatewayError error)
    {
        if (!GrpcCalls.IsGrpcCall(context.Request))
        {
            return false; // other requests have no reset held back
        }

        var deferred = context.Features.Get<IHttpResetFeature>() as DeferredStreamReset;
        if ((error.Code is not ("upstream_timeout" or "upstream_error") && error != ClientFaults.BodyTimeout) || !context.Response.SupportsTrailers())
        {
            deferred?.Release();
            return false;
        }

        deferred?.Supersede();
        try
        {
            context.Response.AppendTrailer(StatusHeader, StatusText(error));
            context.Response.AppendTrailer(MessageHeader, GrpcMessage.Encode(error.Detail));
            await context.Response.CompleteAsync();
            return true;
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or InvalidOperationException)
        {
            return false; // the connection is gone, or the server ended the response already: aborted as any other
        }
    }

    private static string StatusText(GatewayError error) => ((int)StatusOf(error)).ToString(CultureInfo.InvariantCulture);
}
