using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// One Information line per request the pipeline handled — proxied, or answered by the gateway itself (401, 429,
/// 404 route_not_found …) — in the <c>ApiGate.Access</c> category, so it can be filtered or routed on its own. Each
/// field is its own property in the JSON output. Never carries a credential: the path is logged without its query
/// string, the caller by user and key id.
/// </summary>
internal static partial class AccessLog
{
    public const string Category = "ApiGate.Access";

    [LoggerMessage(EventId = 9001, Level = LogLevel.Information, EventName = "Access",
        Message = "{Method} {Path} {Status} {DurationMs} ms request_id={RequestId} route={Route} upstream={Upstream} target={Target} attempts={Attempts} user_id={UserId} key_id={KeyId} "
                  + "bytes_in={BytesIn} bytes_out={BytesOut} upstream_ms={UpstreamMs} client_ip={ClientIp} error={Error} trace_id={TraceId}")]
    public static partial void Write(
        ILogger logger,
        string requestId,
        string method,
        string path,
        string route,
        string upstream,
        string target,
        int attempts,
        string userId,
        string keyId,
        int status,
        long bytesIn,
        long bytesOut,
        double durationMs,
        double upstreamMs,
        string clientIp,
        string error,
        string traceId);
}
