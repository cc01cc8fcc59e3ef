using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;

namespace ApiGate.Gateway.Errors;

/// <summary>
/// Forwarding failures the client caused (docs/forwarding.md, "Client faults"): a request body that is malformed
/// (bad chunk framing), too slow or too large, or an exchange whose timeout fired while the gateway waited on the
/// client. They are answered as the client's error, never retried, and never count against the target
/// (<see cref="Balancing.RetryRules.Classify"/> treats them as neutral).
/// </summary>
internal static class ClientFaults
{
    public static readonly GatewayError InvalidBody = new(400, "invalid_request_body", "Bad Request",
        "The request body could not be read: it is malformed.") { ClosesConnection = true };

    public static readonly GatewayError BodyTimeout = new(408, "request_timeout", "Request Timeout",
        "The request body arrived too slowly.") { ClosesConnection = true };

    public static readonly GatewayError BodyTooLarge = new(413, "request_too_large", "Content Too Large",
        "The request body is larger than the gateway accepts.") { ClosesConnection = true };

    /// <summary>Recorded (access log, metrics) when the response was cut because the client read it too slowly.</summary>
    public static readonly GatewayError ReadTimeout = new(408, "request_timeout", "Request Timeout",
        "The response was read too slowly.");

    /// <summary>
    /// The client's error for a failed exchange, or null when the failure was on the upstream's side.
    /// <paramref name="timedOutOnClient"/>: the exchange's timeout fired while a read from or a write to the client waited;
    /// <paramref name="writeWaited"/>: a write of the response (or of a tunnel's data) to the client was among them.
    /// </summary>
    public static GatewayError? Classify(ForwarderError error, Exception? exception, bool timedOutOnClient, bool writeWaited)
    {
        if (timedOutOnClient)
        {
            // The forwarder reports the response's copy failing also when only the read of a body still streaming in
            // waited (a bidirectional gRPC call whose client had nothing to send): the response was not read too slowly then.
            return writeWaited && error is ForwarderError.ResponseBodyCanceled or ForwarderError.ResponseBodyClient or ForwarderError.UpgradeActivityTimeout
                ? ReadTimeout
                : BodyTimeout;
        }

        if (error is not ForwarderError.RequestBodyClient)
        {
            return null;
        }

        return OfBody(Find<BadHttpRequestException>(exception));
    }

    /// <summary>
    /// Whether the client's request body failed because the client went away — its HTTP/2 stream reset (a cancelled
    /// call), its connection reset, aborted or closed before the body's end — rather than because of what it sent.
    /// Told by the exception, not by <see cref="HttpContext.RequestAborted"/>, which the server cancels a moment later
    /// on another thread: a reset seen first by the body's read was recorded as the client's malformed body (400)
    /// instead of 499.
    /// </summary>
    public static bool WentAway(ForwarderError error, Exception? exception) =>
        error is ForwarderError.RequestBodyClient && LeftMidBody(exception);

    /// <summary>
    /// Whether a failed read of the request body means the client left: the server refused nothing but the read ended in
    /// an I/O error or an abort, or the server's refusal is the body ending with its connection (<see cref="EndedWithTheConnection"/>).
    /// </summary>
    public static bool LeftMidBody(Exception? exception) => Find<BadHttpRequestException>(exception) is { } refusal
        ? EndedWithTheConnection(refusal)
        : (Find<IOException>(exception) is not null || Find<OperationCanceledException>(exception) is not null) && !ChunkSizeOverflowed(exception);

    /// <summary>
    /// Whether the read failed on a chunk size too large for the server's 64-bit count: the server reports that one
    /// malformed framing as an I/O error around the overflow instead of as a refusal, and the client is still there
    /// to be answered 400.
    /// </summary>
    private static bool ChunkSizeOverflowed(Exception? exception) => Find<IOException>(exception)?.InnerException is OverflowException;

    /// <summary>Kestrel's words (not localised) for an HTTP/1.x body whose connection's sending side closed before the body's end.</summary>
    public const string EndOfContentWording = "Unexpected end of request content";

    /// <summary>
    /// Whether the server refused an HTTP/1.x request body because the client closed (or half-closed) its connection
    /// before the body's end: short of its <c>Content-Length</c>, or before the last chunk. HTTP/1.1 has no other way for a
    /// body to end early, and the server answers nothing on such a connection (it aborts it as soon as its input ends;
    /// <c>Security/ClientLeftMidBodyTests</c> keeps this true), so the client went away: 499, like a reset.
    /// </summary>
    public static bool EndedWithTheConnection(BadHttpRequestException refusal) =>
        refusal.StatusCode == StatusCodes.Status400BadRequest && refusal.Message.StartsWith(EndOfContentWording, StringComparison.Ordinal);

    /// <summary>
    /// The client's error for a request body the server refused while it was read (<paramref name="refusal"/>: too slow,
    /// too large or malformed; null: it could not be read for another reason on the client's side).
    /// </summary>
    public static GatewayError OfBody(BadHttpRequestException? refusal) => refusal?.StatusCode switch
    {
        StatusCodes.Status408RequestTimeout => BodyTimeout,
        StatusCodes.Status413PayloadTooLarge => BodyTooLarge,
        _ => InvalidBody,
    };

    private static T? Find<T>(Exception? exception)
        where T : Exception
    {
        for (var current = exception; current is not null; current = current.InnerException)
        {
            if (current is T found)
            {
                return found;
            }
        }

        return null;
    }
}
