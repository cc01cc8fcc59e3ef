using ApiGate.Core.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// One Information line per admin API request — admitted or refused — in the <c>ApiGate.Admin</c> category: method,
/// path (without the query string), status, duration, the admin token's id and name (empty when refused) and the
/// client address. Never the token or any other credential. Also counts the request in
/// <c>apigate_admin_requests_total</c>. Every admitted change (a POST, PUT, PATCH or DELETE made with a valid admin
/// token or console session) is also written to the store's audit trail (<see cref="IAdminAuditStore"/>), which
/// the console's audit page reads for every instance; changes older than <see cref="KeepFor"/> are deleted from it.
/// </summary>
internal sealed partial class AdminAuditLog(ILoggerFactory loggerFactory, IGatewayStore store, TimeProvider timeProvider, Observability.GatewayMetrics metrics)
{
    /// <summary>The log category of admin API request lines.</summary>
    public const string Category = "ApiGate.Admin";

    /// <summary>How many changes the console's audit page shows.</summary>
    public const int RecentCapacity = 500;

    /// <summary>How long the store keeps a change (the log lines are kept as long as the operator keeps logs).</summary>
    public static readonly TimeSpan KeepFor = TimeSpan.FromDays(365);

    private readonly ILogger _logger = loggerFactory.CreateLogger(Category);
    private readonly Core.Timing.OncePer _prune = new(TimeSpan.FromDays(1));

    /// <summary>
    /// Middleware: runs the rest of the admin pipeline, then writes the line. An admitted change's audit row is written
    /// as its answer starts, once the status is final and before any of it reaches the client, so a client that reads
    /// the trail after the answer finds its change there, and no row is lost to a stop between the two.
    /// </summary>
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var started = timeProvider.GetTimestamp();
        var audit = IsChange(context.Request.Method) ? new PendingRow(this, context) : null;
        if (audit is not null)
        {
            context.Response.OnStarting(PendingRow.WriteAsync, audit);
        }

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
                Write(_logger, context.Request.Method, LoggedPath(context.Request), context.Response.StatusCode,
                    Math.Round(timeProvider.GetElapsedTime(started).TotalMilliseconds, 3),
                    caller?.TokenId ?? "", caller?.TokenName ?? "", context.Connection.RemoteIpAddress?.ToString() ?? "");
            }

            if (audit is not null)
            {
                await audit.WriteOnceAsync(); // an answer that never started (the client went away first)
            }
        }
    }

    /// <summary>The audit row of one change, written once: when its answer starts, or when the request ends without one.</summary>
    private sealed class PendingRow(AdminAuditLog log, HttpContext context)
    {
        private bool _written;

        public static Task WriteAsync(object state) => ((PendingRow)state).WriteOnceAsync();

        public Task WriteOnceAsync()
        {
            if (_written)
            {
                return Task.CompletedTask;
            }

            _written = true;
            return context.Features.Get<AdminCaller>() is { } changer && context.Features.Get<StoreRefused>() is null
                ? log.StoreAsync(context, changer)
                : Task.CompletedTask;
        }
    }

    /// <summary>
    /// POST, PUT, PATCH and DELETE: the methods anything is changed with. Any other (OPTIONS, or one made up such as
    /// <c>FOO</c>) is answered 405 and changes nothing: it has its log line alone, or a token holder could fill the trail
    /// with rows naming whatever methods they made up.
    /// </summary>
    private static bool IsChange(string method) =>
        HttpMethods.IsPost(method) || HttpMethods.IsPut(method) || HttpMethods.IsPatch(method) || HttpMethods.IsDelete(method);

    /// <summary>Set on a change the store itself refused (locked, unreachable): its audit row is not attempted.</summary>
    internal sealed class StoreRefused
    {
        public static readonly StoreRefused Instance = new();
    }

    // Only admitted changes reach the store: a refused request (no valid token) is in the log alone, so nobody without
    // a credential can make the gateway write rows.
    private async Task StoreAsync(HttpContext context, AdminCaller changer)
    {
        var now = timeProvider.GetUtcNow();
        try
        {
            await store.AddAdminAuditAsync(new AdminAuditRecord(0, now, context.Request.Method, LoggedPath(context.Request),
                context.Response.StatusCode, changer.TokenId, changer.TokenName, context.Connection.RemoteIpAddress?.ToString() ?? "",
                context.Features.Get<AdminAuditNote>()?.Text ?? ""), CancellationToken.None);
            if (_prune.Due(now))
            {
                await store.DeleteAdminAuditBeforeAsync(now - KeepFor, CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is Core.Storage.StoreUnavailableException or System.Data.Common.DbException or InvalidOperationException)
        {
            // The change itself is done (or was refused by the store already); its log line above is the record.
            LogNotStored(_logger, context.Request.Method, LoggedPath(context.Request), ex.Message);
        }
    }

    /// <summary>
    /// The request's path as every admin log line and audit row names it: with the base path, without the query
    /// string, <see cref="Redacted"/>.
    /// </summary>
    internal static string LoggedPath(HttpRequest request) => Redacted(request.PathBase.Add(request.Path).Value ?? "");

    /// <summary>
    /// The path with every segment that holds a credential's secret part (a run of 32 or more hex digits: an API key or
    /// admin token pasted where an id belongs, e.g. <c>DELETE /admin/keys/ak_…</c>) cut to its first 12 characters, the
    /// part that is shown anyway, and <c>***</c>. Ids are shorter and stay as they are. Wider than the proxy's
    /// <see cref="Core.Identity.ApiKeys.RedactedPath"/>, which keeps content hashes: no admin path holds one
    /// (docs/observability.md, Paths with secrets).
    /// </summary>
    internal static string Redacted(string path)
    {
        if (!Core.Identity.ApiKeys.HasSecretRun(path))
        {
            return path;
        }

        var segments = path.Split('/');
        for (var i = 0; i < segments.Length; i++)
        {
            if (Core.Identity.ApiKeys.HasSecretRun(segments[i]))
            {
                segments[i] = Core.Identity.ApiKeys.PrefixOf(segments[i]) + "***";
            }
        }

        return string.Join('/', segments);
    }

    [LoggerMessage(EventId = 7021, Level = LogLevel.Warning, Message = "Admin change {Method} {Path} is in the log but could not be added to the store's audit trail: {Reason}")]
    private static partial void LogNotStored(ILogger logger, string method, string path, string reason);

    [LoggerMessage(EventId = 7020, Level = LogLevel.Information, EventName = "AdminRequest",
        Message = "{Method} {Path} {Status} {DurationMs} ms token_id={TokenId} token_name={TokenName} client_ip={ClientIp}")]
    private static partial void Write(ILogger logger, string method, string path, int status, double durationMs, string tokenId, string tokenName, string clientIp);
}

/// <summary>A request feature a change handler may set to say what it did in words (the admin console: "created route orders").</summary>
internal sealed record AdminAuditNote(string Text);
