using ApiGate.Gateway.Admin;
using ApiGate.Gateway.Configuration;
using ApiGate.Web.Shared;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ApiGate.Web.Admin;

/// <summary>
/// The first step of every console request: serves the embedded assets, marks pages as never cached, sends a browser
/// without a live session to the login page, checks the session's admin token (by its id: the session never holds the token) is
/// still unrevoked (<see cref="AdminAuthenticator"/>), and writes every change (a form post) to the admin audit log with the token's
/// name (<see cref="AdminAuditLog"/>). A form post must come from the console's own page (<see cref="FormOrigin"/>): its
/// host as the gateway received it, or <see cref="GatewayOptions.AdminUiBaseUrl"/> behind a proxy that rewrites it.
/// </summary>
internal sealed partial class AdminSessionGate(
    AdminSessions sessions, AdminAuthenticator authenticator, AdminAuditLog audit, IAntiforgery antiforgery, GatewayOptions options,
    ILogger<AdminSessionGate> logger)
{
    /// <summary>The login page; the only page served without a session.</summary>
    public const string LoginPath = "/ui/login";

    /// <summary>Where the session is kept for the page being rendered.</summary>
    public static readonly object SessionItem = new();

    /// <summary>
    /// The console forms' checkboxes (<c>FormField</c> with <c>Type="checkbox"</c>: a hidden "false", then the box's value):
    /// the only fields a post may give twice (<see cref="PageFailures.RefusedRepeatedFormFieldAsync"/>).
    /// </summary>
    private static readonly System.Collections.Frozen.FrozenSet<string> Checkboxes =
        System.Collections.Frozen.FrozenSet.Create(StringComparer.OrdinalIgnoreCase, "enabled", "is_default", "visible", "auth_required", "cors_credentials");

    /// <summary>
    /// The largest form a console page reads: room for a route's transforms as large as the admin API takes (1 MiB),
    /// percent-encoded; a longer post answers 413.
    /// </summary>
    public const long MaxFormBytes = 4 * 1024 * 1024;

    /// <summary>
    /// The largest form the login page reads: many times its token, its way back and its antiforgery token. It is read
    /// before anyone has signed in (for the antiforgery check), so a client with no token cannot make each request hold
    /// <see cref="MaxFormBytes"/> of memory; a longer post answers 413.
    /// </summary>
    public const long MaxLoginFormBytes = 64 * 1024;

    public Task InvokeAsync(HttpContext context, RequestDelegate next) => PageFailures.RunAsync(
        context,
        () => ServeAsync(context, next),
        ex => LogPageFailed(logger, context.Request.Method, context.Request.Path.Value ?? "", ex),
        // The error state of every page: a short page that says what to do.
        unavailable => "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>APIGate admin: error</title>"
            + $"<link rel=\"stylesheet\" href=\"{EmbeddedAssets.Url("site.css")}\"></head><body><main class=\"ag-login\"><div>"
            + "<h1>This page could not be shown</h1><p id=\"page-failed\">"
            + (unavailable ? "The store is not reachable right now. " : "Something went wrong on the gateway. ")
            + "The gateway's log has the details (event 7101). <a href=\"/ui\">Back to the dashboard</a>, or try again.</p></div></main></body></html>",
        AdminConsoleModule.BasePath,
        EmbeddedAssets.Url("site.css"));

    private async Task ServeAsync(HttpContext context, RequestDelegate next)
    {
        BrowserTls.Apply(context);
        var request = context.Request;
        if (request.Path.StartsWithSegments(EmbeddedAssets.BasePath))
        {
            await EmbeddedAssets.ServeAsync(context);
            return;
        }

        SecurityHeaders.Apply(context.Response);
        if (await PageFailures.RefusedRepeatedQueryAsync(context, AdminConsoleModule.BasePath, "the dashboard", EmbeddedAssets.Url("site.css")))
        {
            return;
        }

        var isPost = HttpMethods.IsPost(request.Method);
        var isLogin = request.Path.Equals(LoginPath, StringComparison.Ordinal);
        FormPosts.Limit(context, isLogin ? MaxLoginFormBytes : MaxFormBytes);
        FormPosts.KeepBody(context);
        AdminSession? session = null;
        var cookie = Cookie(context);
        var value = isLogin ? null : cookie.Read(request);
        if (value is not null && await sessions.FindAsync(value, context.RequestAborted) is { } stored)
        {
            if (await authenticator.VerifyTokenIdAsync(stored.SubjectId, context.RequestAborted) is { } caller)
            {
                session = new AdminSession(stored, caller);
                FormOrigin.BindToSession(context, stored); // before the post is checked and before any form is rendered
                await sessions.ClosePlainBesideAsync(context, cookie, value);
            }
            else
            {
                await sessions.CloseAsync(stored, context.RequestAborted); // the token was revoked: its sessions end with it
            }
        }

        if (session is null && !isLogin)
        {
            // No live session: to the login page, and back here after it. Before the form check: a form rendered for a
            // session that has since ended carries a token bound to it, and a redirect runs no handler either way.
            var expired = cookie.Sent(request);
            await DeleteCookieAsync(context, sessions);
            var back = request.Path.Add(request.QueryString);
            var location = LoginPath + "?return=" + Uri.EscapeDataString(back) + (expired ? "&expired=1" : "");
            context.Response.StatusCode = isPost ? StatusCodes.Status303SeeOther : StatusCodes.Status302Found;
            context.Response.Headers.Location = location;
            return;
        }

        if (isPost && !await FormOrigin.IsGenuinePostAsync(context, antiforgery, options.AdminUiBaseUrl))
        {
            // A forged or stale form changes nothing: a page that says so rather than the framework's bare 400.
            await PageFailures.WriteFormRefusedAsync(context, "/ui", EmbeddedAssets.Url("site.css"));
            return;
        }

        // A field given twice (a broken or hostile client: the console's forms send each once, but for a checkbox's pair)
        // would be read as its last value without a word.
        if (isPost && await PageFailures.RefusedRepeatedFormFieldAsync(context, "/ui", EmbeddedAssets.Url("site.css"), Checkboxes))
        {
            return;
        }

        // Invalid UTF-8 in a field would be stored as its escape text ("%FF") without a word.
        if (isPost && await PageFailures.RefusedInvalidUtf8FormFieldAsync(context, "/ui", EmbeddedAssets.Url("site.css")))
        {
            return;
        }

        if (isPost)
        {
            FormOrigin.RedirectToPostingOrigin(context);
        }

        if (isLogin)
        {
            await sessions.ClosePlainBesideLiveAsync(context, cookie);
            await (isPost ? audit.InvokeAsync(context, c => ServePageAsync(c, next)) : next(context));
            return;
        }

        context.Features.Set(session!.Caller);
        context.Items[SessionItem] = session;
        await (isPost ? audit.InvokeAsync(context, c => ServePageAsync(c, next)) : ServePageAsync(context, next));
    }

    /// <summary>
    /// Serves the page; one about a row the store does not hold is answered with a page naming it
    /// (<see cref="AdminPage.Missing"/>), a path with no page and a post of a form the page does not show with a page
    /// saying so.
    /// </summary>
    private static async Task ServePageAsync(HttpContext context, RequestDelegate next)
    {
        await next(context);
        if (context.Features.Get<MissingRow>() is { } missing && !context.Response.HasStarted)
        {
            await PageFailures.WriteMissingAsync(
                context, missing.Kind, missing.Name, missing.Shown, missing.ListPath, missing.ListName ?? missing.Kind + "s", EmbeddedAssets.Url("site.css"));
        }

        await PageFailures.AfterNoPageAsync(context, AdminConsoleModule.BasePath, "the dashboard", EmbeddedAssets.Url("site.css"));
        await PageFailures.AfterFormPostAsync(context, "/ui", EmbeddedAssets.Url("site.css"));
    }

    /// <summary>
    /// The session cookie as this request uses it, HttpOnly and SameSite=Strict: when the browser used TLS (also behind a
    /// trusted proxy that ended it: <see cref="BrowserTls"/>) <see cref="AdminSessions.CookieName"/> with the <c>__Host-</c> prefix, Secure, at
    /// <c>Path=/</c>; over plain HTTP <see cref="AdminSessions.CookieName"/> on console paths only.
    /// </summary>
    public static SessionCookie Cookie(HttpContext context) => SessionCookie.For(
        context.Request.IsHttps, AdminSessions.CookieName, AdminConsoleModule.BasePath, SameSiteMode.Strict);

    /// <summary>
    /// Sets the session cookie. Under TLS a plainly named one the request carries is deleted, and its session closed in the
    /// store as logout would: the browser drops it, so nothing else would end it before its idle timeout.
    /// </summary>
    public static async Task SetCookieAsync(HttpContext context, AdminSessions sessions, string value)
    {
        var cookie = Cookie(context);
        await sessions.CloseCookiesAsync(cookie.PlainValues(context.Request), null, context.RequestAborted);
        cookie.Set(context, value);
    }

    /// <summary>Deletes the session cookie; under TLS also a plainly named one the request carries, its session closed in the store.</summary>
    public static async Task DeleteCookieAsync(HttpContext context, AdminSessions sessions)
    {
        var cookie = Cookie(context);
        await sessions.CloseCookiesAsync(cookie.PlainValues(context.Request), null, context.RequestAborted);
        cookie.Delete(context);
    }

    [LoggerMessage(EventId = 7101, Level = LogLevel.Error, Message = "Admin console page {Method} {Path} failed")]
    private static partial void LogPageFailed(ILogger logger, string method, string path, Exception exception);
}
