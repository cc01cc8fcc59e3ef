using Microsoft.AspNetCore.Http;
using Yarp.ReverseProxy.Forwarder;

namespace ApiGate.Gateway.Balancing;

/// <summary>
/// When a failed forwarding attempt may be repeated on another target (SPEC §6.4), and what a result says about the
/// target's health. Based on what YARP reports (tests in Balancing/ForwarderErrorTests pin these down):
/// <list type="bullet">
/// <item>connection refused: <see cref="ForwarderError.Request"/> with an <see cref="HttpRequestException"/> whose
/// <see cref="HttpRequestException.HttpRequestError"/> is <see cref="HttpRequestError.ConnectionError"/> (a name that does not
/// resolve: <see cref="HttpRequestError.NameResolutionError"/>; a failed TLS handshake:
/// <see cref="HttpRequestError.SecureConnectionError"/>);</item>
/// <item>connect timeout: <see cref="ForwarderError.RequestTimedOut"/> with an <see cref="OperationCanceledException"/>
/// wrapping a <see cref="TimeoutException"/>;</item>
/// <item>connection reset or closed before the response headers: <see cref="ForwarderError.Request"/> with another
/// <see cref="HttpRequestError"/> (<see cref="HttpRequestError.ResponseEnded"/>) — the request may have reached the
/// backend.</item>
/// </list>
/// </summary>
internal static class RetryRules
{
    /// <summary>
    /// True when the attempt can be repeated once elsewhere: nothing reached the client, no request body byte was
    /// consumed (a body is never replayed), and either the connection was never established (any method), or the
    /// method is idempotent and the connection failed before any response (never for upgrades).
    /// </summary>
    public static bool CanRetry(ForwarderError error, Exception? exception, string method, long requestBodyBytesRead, bool responseStarted, bool isUpgrade)
    {
        if (responseStarted || requestBodyBytesRead > 0)
        {
            return false;
        }

        if (IsConnectFailure(error, exception))
        {
            return true;
        }

        return error == ForwarderError.Request && !isUpgrade && IsIdempotent(method) && !ResponseWasRead(exception);
    }

    /// <summary>
    /// The target answered something before the exchange failed — a status line that is not HTTP, a header block past
    /// the client's limit, an HTTP/2 protocol error — so it received the request and may have acted on it. (A connection
    /// closed before the response head was complete is <see cref="HttpRequestError.ResponseEnded"/>, which the HTTP
    /// client reports alike whether any byte came first or not.)
    /// </summary>
    private static bool ResponseWasRead(Exception? exception) =>
        exception is HttpRequestException { HttpRequestError: HttpRequestError.InvalidResponse or HttpRequestError.ConfigurationLimitExceeded or HttpRequestError.HttpProtocolError };

    /// <summary>
    /// The method the retry rules judge the request by: the one the route sends instead of the client's
    /// (<paramref name="overridden"/>), else the client's — unless a method-override header the request carries reaches the
    /// backend (<paramref name="overrideHeadersForwarded"/>: the route admits every method), which then runs whichever of
    /// the two it honours, so the less safe one counts (a GET naming <c>X-HTTP-Method-Override: POST</c> is a POST, and so
    /// is a POST naming GET: a backend that ignores the header runs the POST). A route that admits only some methods
    /// removes those headers before sending, so they change nothing there.
    /// </summary>
    public static string MethodAsSeenUpstream(HttpRequest request, string? overridden, bool overrideHeadersForwarded)
    {
        var sent = overridden ?? request.Method;
        if (!overrideHeadersForwarded || !IsIdempotent(sent))
        {
            return sent;
        }

        foreach (var header in MethodOverrideHeaders)
        {
            if (request.Headers[header] is { Count: > 0 } named)
            {
                // Any value other than one idempotent method counts as a non-idempotent one.
                return named.Count == 1 && named[0] is { } only && IsIdempotent(only.Trim()) ? only.Trim() : HttpMethods.Post;
            }
        }

        return sent;
    }

    /// <summary>The headers some backends take as the method instead of the request line's.</summary>
    public static readonly string[] MethodOverrideHeaders = ["X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"];

    /// <summary>
    /// The connection to the target could not be established, so nothing was sent: refused or unreachable, its name did
    /// not resolve, or the TLS handshake failed (the request is written only over an established TLS session).
    /// </summary>
    public static bool IsConnectFailure(ForwarderError error, Exception? exception) => error switch
    {
        ForwarderError.Request => exception is HttpRequestException
        {
            HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError,
        },
        ForwarderError.RequestTimedOut => exception is OperationCanceledException { InnerException: TimeoutException },
        _ => false,
    };

    /// <summary>RFC 9110 §9.2.2 idempotent methods the gateway retries (TRACE is never forwarded a second time).</summary>
    public static bool IsIdempotent(string method) =>
        HttpMethods.IsGet(method) || HttpMethods.IsHead(method) || HttpMethods.IsOptions(method) || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method);

    /// <summary>
    /// The side that failed, where YARP names the wrong one: an HTTP/2 upstream that resets a stream while the gateway
    /// waits for the client's next request bytes (a bidirectional gRPC call, a streamed upload) makes the HTTP client
    /// cancel the request body's copy, and when that copy ends before the response's copy notices the reset, YARP
    /// reports the client's side failing (<see cref="ForwarderError.RequestBodyClient"/>, an <see cref="AggregateException"/>
    /// of the canceled read and the response's failure). The HTTP client's report of the upstream breaking the exchange
    /// (<see cref="HttpIOException"/>: a reset stream, a connection closed) among them is the upstream's failure,
    /// reported as the response's copy failing — as YARP reports the same reset noticed first there.
    /// </summary>
    public static ForwarderError Attribute(ForwarderError error, Exception? exception)
    {
        if (error is not (ForwarderError.RequestBodyClient or ForwarderError.RequestBodyCanceled)
            || exception is not AggregateException { InnerExceptions: [OperationCanceledException, ..] aggregate })
        {
            return error;
        }

        for (var i = 1; i < aggregate.Count; i++)
        {
            // An HttpRequestException alone can be the request body's own copy failing ("Error while copying content
            // to a stream", wrapping the canceled read from the client — a stalled upload cut by its idle timeout).
            if (aggregate[i] is HttpIOException or HttpRequestException { InnerException: HttpIOException })
            {
                return ForwarderError.ResponseBodyDestination;
            }
        }

        return error;
    }

    /// <summary>
    /// What an attempt says about the target: failures toward it and 5xx count; the client's own failures do not —
    /// neither a client that went away nor a timeout that fired while the gateway waited on the client
    /// (<paramref name="heldUpByClient"/>: a body sent, or a response read, too slowly).
    /// </summary>
    /// <remarks>
    /// The error decides: YARP names the side that failed (…Destination, Request, ResponseHeaders: the upstream;
    /// …Client: the client). Whether the client connection was aborted cannot decide it: YARP itself aborts it after
    /// a failure toward the upstream once the response has started, and whether that abort is seen yet is a race.
    /// A cancellation (…Canceled) is the exchange's timeout (<paramref name="timedOut"/>) — the target's failure
    /// unless the gateway was waiting on the client — or else the client going away.
    /// </remarks>
    public static TargetOutcome Classify(ForwarderError error, int status, bool timedOut, bool heldUpByClient = false) => error switch
    {
        ForwarderError.None => status >= 500 ? TargetOutcome.Failure : TargetOutcome.Success,
        ForwarderError.Request or ForwarderError.RequestTimedOut or ForwarderError.ResponseHeaders or ForwarderError.RequestBodyDestination
            or ForwarderError.ResponseBodyDestination or ForwarderError.UpgradeRequestDestination or ForwarderError.UpgradeResponseDestination
            => TargetOutcome.Failure,
        ForwarderError.RequestCanceled or ForwarderError.RequestBodyCanceled or ForwarderError.ResponseBodyCanceled or ForwarderError.UpgradeRequestCanceled
            or ForwarderError.UpgradeResponseCanceled
            => timedOut && !heldUpByClient ? TargetOutcome.Failure : TargetOutcome.Neutral,
        _ => TargetOutcome.Neutral,
    };
}
