using System.Diagnostics;
using ApiGate.Core.Metering;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace ApiGate.Gateway.Metering;

/// <summary>
/// Counts one exchange as it crosses the gateway without holding it: the request and response bodies pass through
/// <see cref="MeteredStream"/>s (bytes, SSE events, a bounded capture when the metering rule reads a body) and an
/// upgraded connection through a <see cref="CountingUpgradeFeature"/> (bytes and WebSocket messages both ways).
/// </summary>
internal sealed class ExchangeMeter
{
    private readonly Stream _requestBody;
    private readonly Stream _responseBody;
    private readonly IHttpUpgradeFeature? _upgradeFeature;
    private readonly IHttpExtendedConnectFeature? _connectFeature;
    private readonly long _started;
    private readonly bool _http2ServerBody;

    private ExchangeMeter(HttpContext context, MeteringRule rule, bool countEvents, int captureLimit, DateTimeOffset startedAt, bool serverBody, Transforms.BufferedBodies? buffered)
    {
        _started = Stopwatch.GetTimestamp();
        StartedAt = startedAt;
        _requestBody = context.Request.Body;
        _responseBody = context.Response.Body;
        // A request that cannot have a body (a GET without Content-Length or Transfer-Encoding, an HTTP/2 request that
        // ended with its headers) reads as empty: nothing to count or capture, so its stream is not wrapped.
        if (context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? true)
        {
            // An HTTP/1.x body still the server's is read from its pipe, so a timeout's cancelled read leaves it usable.
            var body = serverBody && (HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol))
                ? new RequestBodyReaderStream(context.Request.BodyReader)
                : _requestBody;
            Request = new MeteredStream(body, countEvents: false, rule.NeedsRequestBody ? captureLimit : 0, buffered);
            context.Request.Body = Request;
            if (Request.CaptureShare is { } requestShare)
            {
                context.Response.RegisterForDispose(requestShare);
            }
        }

        // The response is written through the server's writer when its stream is the server's own, so a write the server
        // drops after the client went away (it does so without an error) is not counted as sent.
        var server = context.Features.Get<IHttpResponseBodyFeature>();
        var connection = server is not null && ReferenceEquals(server.Stream, _responseBody) ? server.Writer : null;
        _http2ServerBody = connection is not null && HttpProtocol.IsHttp2(context.Request.Protocol);
        Response = new MeteredStream(_responseBody, countEvents, rule.NeedsResponseBody ? captureLimit : 0, buffered, connection,
            connection is null ? null : context.Response.Headers);
        context.Response.Body = Response;
        if (Response.CaptureShare is { } responseShare)
        {
            context.Response.RegisterForDispose(responseShare);
        }
        if (context.Features.Get<IHttpUpgradeFeature>() is { IsUpgradableRequest: true } upgrade)
        {
            _upgradeFeature = upgrade;
            Upgrade = new CountingUpgradeFeature(upgrade, ClientConnection.Gone(context));
            context.Features.Set<IHttpUpgradeFeature>(Upgrade);
        }
        else if (context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } connect)
        {
            _connectFeature = connect;
            ExtendedConnect = new CountingExtendedConnectFeature(connect, ClientConnection.Gone(context));
            context.Features.Set<IHttpExtendedConnectFeature>(ExtendedConnect);
        }
    }

    /// <summary>When counting began (the usage event's timestamp).</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>The request body as counted; null when the request cannot have one.</summary>
    public MeteredStream? Request { get; }

    public MeteredStream Response { get; }

    /// <summary>Set when the request can be upgraded (WebSocket over HTTP/1.1); counts the tunnelled bytes and messages.</summary>
    public CountingUpgradeFeature? Upgrade { get; }

    /// <summary>Set for a WebSocket over HTTP/2 (extended CONNECT); counts the same way.</summary>
    public CountingExtendedConnectFeature? ExtendedConnect { get; }

    /// <summary>True when the exchange is a tunnel (a WebSocket), which is never retried.</summary>
    public bool IsTunnel => Upgrade is not null || ExtendedConnect is not null;

    /// <summary>Request body bytes read so far (a body that was read even in part is never replayed on a retry).</summary>
    public long RequestBytesRead => Request?.Bytes ?? 0;

    /// <summary>
    /// True when a read from or a write to the client was cancelled while it waited: a bound on the exchange fired
    /// while the gateway was held up by the client (sending its body or reading the response too slowly). For a tunnel
    /// only a write counts: its read from the client waits whenever the client has nothing to say.
    /// </summary>
    public bool HeldUpByClient => Request?.CanceledWhileWaiting == true || Response.CanceledWhileWaiting
        || (Upgrade?.Stream ?? ExtendedConnect?.Stream)?.WriteCanceledWhileWaiting == true;

    /// <summary>True when a write to the client (the response, or a tunnel's data) was cancelled while it waited: the client read too slowly.</summary>
    public bool WriteHeldUpByClient => Response.WriteCanceledWhileWaiting || (Upgrade?.Stream ?? ExtendedConnect?.Stream)?.WriteCanceledWhileWaiting == true;

    /// <summary>Wraps the exchange's streams; <see cref="Stop"/> puts the originals back.</summary>
    /// <param name="serverBody">The request body is still the server's own (no body transform replaced it).</param>
    /// <param name="buffered">The gateway-wide budget body captures are taken from (null: captures bounded one by one only).</param>
    public static ExchangeMeter Start(HttpContext context, MeteringRule rule, bool countEvents, int captureLimit, DateTimeOffset startedAt, bool serverBody = true,
        Transforms.BufferedBodies? buffered = null) =>
        new(context, rule, countEvents, captureLimit, startedAt, serverBody, buffered);

    /// <summary>Status 499 (nginx's "client closed request") stands for a client that went away before any answer.</summary>
    public const int ClientClosedRequest = 499;

    /// <summary>
    /// Ends an exchange whose client went away (a reset, or its connection closed before its body's end): recorded as
    /// <see cref="ClientClosedRequest"/> if no response started, and nothing more sent. The status is set here because
    /// the server cancels <see cref="HttpContext.RequestAborted"/> (which <see cref="StatusOf"/> also reads) a moment
    /// after <see cref="HttpContext.Abort"/>, on another thread.
    /// </summary>
    public static void ClientLeft(HttpContext context)
    {
        if (!context.Response.HasStarted)
        {
            context.Response.StatusCode = ClientClosedRequest;
        }

        context.Abort();
    }

    /// <summary>
    /// The status the exchange ended with as usage, logs, metrics and traces record it: the response's, the gateway
    /// error's when <paramref name="answered"/> went to a gRPC call as a 200 (<see cref="Errors.GatewayError.RecordedStatus"/>),
    /// or <see cref="ClientClosedRequest"/> when the client went away before a response started (the forwarder then
    /// leaves a 400 on a response nobody receives, which would read as the client's malformed request).
    /// </summary>
    /// <param name="answered">The error the gateway answered with, if any.</param>
    public static int StatusOf(HttpContext context, Errors.GatewayError? answered) =>
        answered is { AnsweredAsGrpc: true } ? answered.Status
        : context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? ClientClosedRequest
        : context.Response.StatusCode;

    /// <summary>
    /// Whether the response is an event stream whose events a client's EventSource dispatches: status 200 and the media
    /// type <c>text/event-stream</c> (the HTML standard fails any other response without dispatching an event). Bytes
    /// that read as events in another answer (a text or JSON body, an error page) are not events and are not counted.
    /// </summary>
    private static bool IsEventStream(HttpResponse response) =>
        response.StatusCode == StatusCodes.Status200OK
        && Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(response.ContentType, out var type)
        && type.MediaType.Equals("text/event-stream", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// The response bytes counted that an HTTP/2 client that went away may never have received. A write to an HTTP/2
    /// stream completes once the server holds it in the stream's buffer (up to Kestrel's response buffer limit, 64 KiB by
    /// default), from which it sends only what the client's flow-control window allows. A client that stops granting
    /// window fills that buffer, so a write of the gateway's waits for room; if the client then resets the stream or
    /// closes the connection, the buffer's bytes are not counted (without this it was billed for up to 64 KiB beyond what
    /// its window let through). A client that leaves having never held a write up (a gRPC call cancelled between
    /// messages) is billed for all that was written. (HTTP/1.x has its own check: the server's flush reports the dropped write.)
    /// </summary>
    private long HeldForClient(HttpContext context)
    {
        if (!_http2ServerBody || !Response.WriteWaited || !context.RequestAborted.IsCancellationRequested)
        {
            return 0;
        }

        return HeldBack(context, Response.Bytes);
    }

    /// <summary>
    /// The same for a WebSocket over HTTP/2 (extended CONNECT): the tunnel's writes go into the same stream buffer, so a
    /// client that stopped granting window (a write of the tunnel waited for room) and then left may never have received
    /// what that buffer held: small writes the server took after the client's window ran out (the upstream's frame
    /// headers) were billed beyond what it received, and a waiting write dropped when the client left was billed whole.
    /// A client that answered the gateway's Close received everything, however soon it then closed its connection.
    /// </summary>
    private long HeldInTunnel(HttpContext context) =>
        ExtendedConnect?.Stream is { WriteHeldUp: true, ClientAnsweredClose: false } tunnel && context.RequestAborted.IsCancellationRequested
            ? HeldBack(context, tunnel.BytesToClient)
            : 0;

    /// <summary>Of <paramref name="counted"/> bytes, those the server's stream buffer may have held when the client left.</summary>
    private static long HeldBack(HttpContext context, long counted)
    {
        var limit = context.RequestServices?.GetService(typeof(Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>))
            is Microsoft.Extensions.Options.IOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions> kestrel
            ? kestrel.Value.Limits.MaxResponseBufferSize
            : DefaultResponseBufferSize;

        // No limit: the server may hold any amount, so nothing written is known to have reached the client.
        return limit is { } held ? Math.Min(counted, held) : counted;
    }

    /// <summary>Kestrel's default response buffer limit (<c>KestrelServerLimits.MaxResponseBufferSize</c>).</summary>
    private const long DefaultResponseBufferSize = 64 * 1024;

    /// <summary>Restores the original streams and returns what crossed, for the metering rule.</summary>
    /// <param name="answered">The error the gateway answered with, if any (its status is recorded, <see cref="StatusOf"/>).</param>
    public MeteringInput Stop(HttpContext context, Errors.GatewayError? answered)
    {
        if (Request is not null)
        {
            context.Request.Body = _requestBody;
        }

        context.Response.Body = _responseBody;
        if (_upgradeFeature is not null)
        {
            context.Features.Set(_upgradeFeature);
        }

        if (_connectFeature is not null)
        {
            context.Features.Set(_connectFeature);
        }

        var socket = Upgrade?.Stream ?? ExtendedConnect?.Stream;
        return new MeteringInput
        {
            Status = StatusOf(context, answered),
            RequestBytes = RequestBytesRead + (socket?.BytesFromClient ?? 0),
            ResponseBytes = Response.Bytes - HeldForClient(context) + (socket?.BytesToClient ?? 0) - HeldInTunnel(context),
            DurationMs = Stopwatch.GetElapsedTime(_started).TotalMilliseconds,
            SseEvents = Response.Events > 0 && IsEventStream(context.Response) ? Response.Events : 0,
            WsMessages = socket?.Messages ?? 0,
            RequestBody = Request?.Captured ?? default,
            ResponseBody = Response.Captured ?? default,
        };
    }
}
