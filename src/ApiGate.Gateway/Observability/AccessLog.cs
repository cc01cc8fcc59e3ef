using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// One Information line per request the pipeline handled — proxied, or answered by the gateway itself (401, 429,
/// 404 route_not_found …) — in the <c>ApiGate.Access</c> category, so it can be filtered or routed on its own. Each
/// field is its own property in the JSON output. Never carries a credential: the path is logged without its query
/// string, the caller by user and key id.
/// </summary>
internal static class AccessLog
{
    public const string Category = "ApiGate.Access";

    public const int EventId = 9001;

    private static readonly EventId Event = new(EventId, "Access");

    public static void Write(ILogger logger, in AccessLogEntry entry) =>
        logger.Log(LogLevel.Information, Event, entry, null, static (state, _) => state.ToString());
}
