using System.Collections.Concurrent;
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

    /// <summary>How many changes <see cref="RecentChanges"/> keeps.</summary>
    public const int RecentCapacity = 500;

    private readonly ILogger _logger = loggerFactory.CreateLogger(Category);
    private readonly ConcurrentQueue<AdminAuditEntry> _recent = new();

    /// <summary>
    /// The last <see cref="RecentCapacity"/> changes (requests other than GET and HEAD) this process admitted or refused,
    /// newest first: what the admin console's audit page shows. The log lines are the complete record.
    /// </summary>
    public IReadOnlyList<AdminAuditEntry> RecentChanges() => [.. _recent.Reverse()];

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
            if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
            {
                var changer = context.Features.Get<AdminCaller>();
                _recent.Enqueue(new AdminAuditEntry(timeProvider.GetUtcNow(), context.Request.Method, context.Request.PathBase.Add(context.Request.Path).Value ?? "",
                    context.Response.StatusCode, changer?.TokenName ?? "", context.Connection.RemoteIpAddress?.ToString() ?? "", context.Features.Get<AdminAuditNote>()?.Text ?? ""));
                while (_recent.Count > RecentCapacity && _recent.TryDequeue(out _))
                {
                }
            }

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

/// <summary>One change in <see cref="AdminAuditLog.RecentChanges"/>: never a credential.</summary>
internal sealed record AdminAuditEntry(DateTimeOffset At, string Method, string Path, int Status, string TokenName, string ClientIp, string Note);

/// <summary>A request feature a change handler may set to say what it did in words (the admin console: "created route orders").</summary>
internal sealed record AdminAuditNote(string Text);
