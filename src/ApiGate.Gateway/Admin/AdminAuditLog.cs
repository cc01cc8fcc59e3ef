using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// One Information line per admin API request — admitted or refused — in the <c>ApiGate.Admin</c> category: method,
/// path (without the query string), status, duration, the admin token's id and name (empty when refused) and the
/// client address. Never the token or any other credential. Also counts the request in
/// <c>apigate_admin_requests_total</c>.
/// </summary>
internal sealed partial class AdminAuditLog(ILoggerFactory loggerFactory, TimeProvider timeProvider, Observability.GatewayMetrics metrics)
{
    /// <summary>The log category of admin API request lines.</summary>
    public const string Category = "ApiGate.Admin";

    private readonly ILogger _logger = loggerFactory.CreateLogger(Category);

    /// <summary>Middleware: runs the rest of the admin pipeline, then writes the line.</summary>
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var started = timeProvider.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            metrics.RecordAdminRequest(context.Request.Method, context.Response.StatusCode);
            if (_logger.IsEnabled(LogLevel.Information))
            {
                var caller = context.Features.Get<AdminCaller>();
                var request = context.Request;
                Write(_logger, request.Method, request.PathBase.Add(request.Path).Value ?? "", context.Response.StatusCode,
                    Math.Round(timeProvider.GetElapsedTime(started).TotalMilliseconds, 3),
                    caller?.TokenId ?? "", caller?.TokenName ?? "", context.Connection.RemoteIpAddress?.ToString() ?? "");
            }
        }
    }

    [LoggerMessage(EventId = 7020, Level = LogLevel.Information, EventName = "AdminRequest",
        Message = "{Method} {Path} {Status} {DurationMs} ms token_id={TokenId} token_name={TokenName} client_ip={ClientIp}")]
    private static partial void Write(ILogger logger, string method, string path, int status, double durationMs, string tokenId, string tokenName, string clientIp);
}
