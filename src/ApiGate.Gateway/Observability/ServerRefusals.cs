using ApiGate.Gateway.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ApiGate.Gateway.Observability;

/// <summary>
/// Requests the HTTP server (Kestrel) refuses before the gateway's pipeline runs — a malformed request line or header,
/// a request target or header block over its limit, two <c>Host</c> headers, headers sent too slowly — made visible:
/// counted in <c>apigate.server.refusals</c> by status and written as an access line with the status and an error code.
/// Kestrel reports each refusal as one debug log event of its own category (<c>ConnectionBadRequest</c>); this provider
/// is the only one that category is enabled for, so nothing runs for requests Kestrel accepts, and the other providers
/// keep the category at warnings as before. Kestrel's message is not logged: with its detail on it quotes the request
/// target, which may carry an API key in its query.
/// </summary>
internal sealed class ServerRefusals(IServiceProvider services) : ILoggerProvider
{
    /// <summary>Kestrel's log category for requests it refuses.</summary>
    public const string KestrelCategory = "Microsoft.AspNetCore.Server.Kestrel.BadRequests";

    /// <summary>Kestrel's event for one refused request (<c>ConnectionBadRequest</c>), logged at debug level.</summary>
    private const int ConnectionBadRequest = 17;

    /// <summary>
    /// Kestrel's wording for a request body it could not read. It reports those through the same event, but only while
    /// the application reads the body or drains it after answering: the pipeline has then answered and logged the
    /// request itself (<c>400 invalid_request_body</c>, <c>408</c>, or its own answer before the body was read), so they
    /// are not refusals before the pipeline and are left out. The strings are Kestrel's own (not localised); the tests
    /// send a malformed chunked body to keep this list honest.
    /// </summary>
    private static readonly string[] BodyFaults =
    [
        "Bad chunk ", "Chunked request incomplete", Errors.ClientFaults.EndOfContentWording, "Request body too large",
        "Reading the request body timed out",
    ];

    private Sinks? _sinks;

    public ILogger CreateLogger(string categoryName) => categoryName == KestrelCategory ? new Observer(this) : NullLogger.Instance;

    public void Dispose()
    {
    }

    /// <summary>The access line's error code for a refusal answered with <paramref name="status"/>.</summary>
    public static string ErrorCode(int status) => status switch
    {
        405 => "method_not_allowed",
        408 => "request_timeout",
        413 => "request_too_large",
        414 => "uri_too_long",
        431 => "headers_too_large",
        _ => "bad_request",
    };

    private void Record(int status)
    {
        // Resolved at the first refusal, when the server (and so every service) is built; never during a request Kestrel accepts.
        var sinks = Volatile.Read(ref _sinks);
        if (sinks is null)
        {
            sinks = new Sinks(
                services.GetRequiredService<GatewayMetrics>(),
                services.GetRequiredService<ILoggerFactory>().CreateLogger(AccessLog.Category),
                services.GetRequiredService<GatewayOptions>().AccessLog);
            Volatile.Write(ref _sinks, sinks);
        }

        sinks.Metrics.RecordServerRefusal(status);
        if (sinks.AccessLogOn)
        {
            AccessLog.Write(sinks.AccessLog, new AccessLogEntry
            {
                RequestId = "", Method = "", Path = "", Route = "", Upstream = "", Target = "", Attempts = 0, UserId = "", KeyId = "",
                Status = status, BytesIn = 0, BytesOut = 0, DurationMs = 0, UpstreamMs = 0, ClientIp = "", Error = ErrorCode(status), TraceId = "",
            });
        }
    }

    private static bool IsBodyFault(Exception exception)
    {
        foreach (var start in BodyFaults)
        {
            if (exception.Message.StartsWith(start, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private sealed record Sinks(GatewayMetrics Metrics, ILogger AccessLog, bool AccessLogOn);

    private sealed class Observer(ServerRefusals owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id != ConnectionBadRequest || exception is not Microsoft.AspNetCore.Http.BadHttpRequestException refused || IsBodyFault(refused))
            {
                return;
            }

            try
            {
                owner.Record(refused.StatusCode);
            }
            catch (ObjectDisposedException)
            {
                // A refusal while the server stops: nothing left to record it in.
            }
        }
    }
}
