using ApiGate.Core.Identity;
using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Portal;
using ApiGate.Web.Shared;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ApiGate.Web.Portal;

/// <summary>
/// The first step of every portal request: serves the embedded assets under <c>/portal/_assets</c> (the portal is on
/// the public listener, the console's copies may not be), sets the page headers, lets the public pages (login,
/// sign-up, links from emails) through, and sends a browser without a live session to the login page. A session
/// whose user is no longer active, or whose password has changed since, ends here. A customer on billing hold
/// (suspended because a payment failed; <see cref="BillingService.OnHoldAsync"/>) keeps the session but reaches only
/// the plan page, where Manage billing settles the payment, and logging out.
/// </summary>
internal sealed partial class PortalSessionGate(
    PortalSessions sessions, IGatewayStore store, BillingService billing, PortalOptions options, IAntiforgery antiforgery, ILogger<PortalSessionGate> logger)
{
    public const string LoginPath = PortalOptions.BasePath + "/login";

    /// <summary>Where the assets are served on the portal.</summary>
    public const string AssetsPath = EmbeddedAssets.PortalBasePath;

    /// <summary>Where the session's user is kept for the page being rendered.</summary>
    public static readonly object UserItem = new();

    /// <summary>Set for the page being rendered when its customer is on billing hold (the frame then offers the plan page only).</summary>
    public static readonly object BillingHoldItem = new();

    /// <summary>Where a customer on billing hold is sent from every other page.</summary>
    public const string BillingHoldPath = PortalOptions.BasePath + "/plans";

    /// <summary>Where the session itself is kept for the page being rendered (logout, password change).</summary>
    public static readonly object SessionItem = new();

    /// <summary>The largest form a portal page reads (its longest fields: a 254-character email and a 256-character password); a longer post answers 413.</summary>
    public const long MaxFormBytes = 64 * 1024;

    private static readonly string[] PublicPages = ["/login", "/signup", "/verify", "/forgot", "/reset"];

    /// <summary>The pages a customer on billing hold reaches.</summary>
    private static readonly string[] BillingHoldPages = ["/plans", "/logout"];

    public Task InvokeAsync(HttpContext context, RequestDelegate next) => PageFailures.RunAsync(
        context,
        () => ServeAsync(context, next),
        ex => LogPageFailed(logger, context.Request.Method, context.Request.Path.Value ?? "", ex),
        // A short page that says what to do (the store down on PostgreSQL: try again shortly).
        unavailable => $"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{System.Net.WebUtility.HtmlEncode(options.AppName)}</title></head><body>"
            + "<h1>This page could not be shown</h1><p id=\"page-failed\">"
            + (unavailable ? "The service is briefly unavailable. " : "Something went wrong on our side. ")
            + $"Please try again in a moment. <a href=\"{PortalOptions.BasePath}\">Back to the start</a>.</p></body></html>",
        PortalOptions.BasePath,
        EmbeddedAssets.PortalUrl("site.css"));

    private async Task ServeAsync(HttpContext context, RequestDelegate next)
    {
        BrowserTls.Apply(context);
        var request = context.Request;
        if (request.Path.StartsWithSegments(AssetsPath, out var asset))
        {
            request.Path = new PathString(EmbeddedAssets.BasePath).Add(asset);
            await EmbeddedAssets.ServeAsync(context);
            return;
        }

        SecurityHeaders.Apply(context.Response);
        if (await PageFailures.RefusedRepeatedQueryAsync(context, PortalOptions.BasePath, "the start", EmbeddedAssets.PortalUrl("site.css")))
        {
            return;
        }

        FormPosts.Limit(context, MaxFormBytes);
        FormPosts.KeepBody(context);
        var path = request.Path.Value ?? "";
        var page = path.Length > PortalOptions.BasePath.Length ? path[PortalOptions.BasePath.Length..] : "";
        var isPublic = Array.IndexOf(PublicPages, page) >= 0;
        WebSession? session = null;
        UserDefinition? user = null;
        var onHold = false;
        if (!isPublic)
        {
            var cookie = Cookie(context, options);
            var value = cookie.Read(request);
            session = await sessions.FindAsync(value, context.RequestAborted);
            if (session is not null)
            {
                user = await store.FindUserAsync(session.SubjectId, context.RequestAborted);
                var account = user is null ? null : await store.FindPortalAccountAsync(user.Id, context.RequestAborted);
                onHold = user is { Status: UserStatus.Suspended } && await billing.OnHoldAsync(user, context.RequestAborted);
                if (user is null || (user.Status != UserStatus.Active && !onHold) || account is null || !PortalSessions.OpenedUnder(session, account.PasswordHash))
                {
                    await sessions.CloseAsync(session, context.RequestAborted);
                    session = null;
                }
                else
                {
                    FormOrigin.BindToSession(context, session); // before the post is checked and before any form is rendered
                    await sessions.ClosePlainBesideAsync(context, cookie, value!);
                }
            }
        }
        else
        {
            await sessions.ClosePlainBesideLiveAsync(context, Cookie(context, options));
        }

        if (session is null && !isPublic)
        {
            // No live session: to the login page, and back here after it. Before the form check: a form rendered for a
            // session that has since ended carries a token bound to it, and a redirect runs no handler either way.
            var expired = Cookie(context, options).Sent(request);
            await DeleteCookieAsync(context, options, sessions);
            var back = request.Path.Add(request.QueryString);
            context.Response.StatusCode = HttpMethods.IsPost(request.Method) ? StatusCodes.Status303SeeOther : StatusCodes.Status302Found;
            context.Response.Headers.Location = LoginPath + "?return=" + Uri.EscapeDataString(back) + (expired ? "&expired=1" : "");
            return;
        }

        if (HttpMethods.IsPost(request.Method))
        {
            if (!await FormOrigin.IsGenuinePostAsync(context, antiforgery, options.BaseUrl))
            {
                // A forged or stale form: say so in a page of its own rather than the framework's bare 400.
                await PageFailures.WriteFormRefusedAsync(context, PortalOptions.BasePath, EmbeddedAssets.PortalUrl("site.css"));
                return;
            }

            if (await PageFailures.RefusedRepeatedFormFieldAsync(context, PortalOptions.BasePath, EmbeddedAssets.PortalUrl("site.css")))
            {
                return;
            }

            // Invalid UTF-8 in a field would be stored as its escape text ("%FF") without a word.
            if (await PageFailures.RefusedInvalidUtf8FormFieldAsync(context, PortalOptions.BasePath, EmbeddedAssets.PortalUrl("site.css")))
            {
                return;
            }

            FormOrigin.RedirectToPostingOrigin(context);
        }

        if (isPublic)
        {
            await ServePageAsync(context, next);
            return;
        }

        if (onHold)
        {
            if (Array.IndexOf(BillingHoldPages, page) < 0)
            {
                context.Response.StatusCode = HttpMethods.IsPost(request.Method) ? StatusCodes.Status303SeeOther : StatusCodes.Status302Found;
                context.Response.Headers.Location = BillingHoldPath;
                return;
            }

            context.Items[BillingHoldItem] = true;
        }

        context.Items[UserItem] = user;
        context.Items[SessionItem] = session;
        await ServePageAsync(context, next);
    }

    /// <summary>
    /// Serves the page; a path with no page (<see cref="PageFailures.AfterNoPageAsync"/>) and a post of a form the page
    /// does not show (<see cref="PageFailures.AfterFormPostAsync"/>) get a page saying so.
    /// </summary>
    private static async Task ServePageAsync(HttpContext context, RequestDelegate next)
    {
        await next(context);
        await PageFailures.AfterNoPageAsync(context, PortalOptions.BasePath, "the start", EmbeddedAssets.PortalUrl("site.css"));
        await PageFailures.AfterFormPostAsync(context, PortalOptions.BasePath, EmbeddedAssets.PortalUrl("site.css"));
    }

    [LoggerMessage(EventId = 8101, Level = LogLevel.Error, Message = "Portal page {Method} {Path} failed")]
    private static partial void LogPageFailed(ILogger logger, string method, string path, Exception exception);

    /// <summary>
    /// The session cookie as this request uses it, HttpOnly and SameSite=Lax: under TLS (or when the portal's base URL is
    /// https) <see cref="PortalSessions.CookieName"/> with the <c>__Host-</c> prefix, Secure, at <c>Path=/</c>; over plain HTTP
    /// <see cref="PortalSessions.CookieName"/> on portal paths only.
    /// </summary>
    public static SessionCookie Cookie(HttpContext context, PortalOptions options) => SessionCookie.For(
        // Behind a proxy that ends TLS the request arrives as http; an https base URL says the browser sees TLS.
        context.Request.IsHttps || options.BaseUrl.StartsWith("https://", StringComparison.OrdinalIgnoreCase),
        PortalSessions.CookieName, PortalOptions.BasePath, SameSiteMode.Lax);

    /// <summary>
    /// Sets the session cookie. Under TLS a plainly named one the request carries is deleted, and its session closed in the
    /// store as logout would: the browser drops it, so nothing else would end it before its idle timeout.
    /// </summary>
    public static async Task SetCookieAsync(HttpContext context, PortalOptions options, PortalSessions sessions, string value)
    {
        var cookie = Cookie(context, options);
        await sessions.CloseCookiesAsync(cookie.PlainValues(context.Request), null, context.RequestAborted);
        cookie.Set(context, value);
    }

    /// <summary>Deletes the session cookie; under TLS also a plainly named one the request carries, its session closed in the store.</summary>
    public static async Task DeleteCookieAsync(HttpContext context, PortalOptions options, PortalSessions sessions)
    {
        var cookie = Cookie(context, options);
        await sessions.CloseCookiesAsync(cookie.PlainValues(context.Request), null, context.RequestAborted);
        cookie.Delete(context);
    }
}
