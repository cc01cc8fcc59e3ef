using System.Security.Cryptography;
using System.Text;
using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Web.Shared;

/// <summary>
/// Sessions of one web application kept in the store, so every instance sharing it honours them: a random 256-bit
/// cookie value maps (by its SHA-256) to a <see cref="WebSession"/>. A session ends at logout, after
/// <see cref="IdleTimeout"/> without a request, <see cref="Lifetime"/> after it was opened however much it is used
/// (sessions outlive restarts, so a stolen cookie kept in use must still run out), or when its application ends it
/// (<see cref="CloseAsync"/>).
/// </summary>
/// <remarks>
/// Every page reads the session from the store (one indexed lookup); a use is written at most once per
/// <see cref="TouchInterval"/>, so browsing does not turn into a write per page.
/// </remarks>
internal abstract class StoredSessions(IGatewayStore store, TimeProvider timeProvider, WebSessionKind kind)
{
    /// <summary>Sessions kept per admin token or per user: signing in once more ends the one used least recently.</summary>
    public const int MaxPerSubject = 20;

    private readonly Core.Timing.OncePer _purge = new(TimeSpan.FromMinutes(1));

    /// <summary>A session ends after this long without a request.</summary>
    public abstract TimeSpan IdleTimeout { get; }

    /// <summary>A session ends this long after it was opened, however recently it was used; then its user signs in again.</summary>
    public abstract TimeSpan Lifetime { get; }

    /// <summary>How stale the stored last use may get: a minute, or a twentieth of the idle timeout if that is shorter.</summary>
    public TimeSpan TouchInterval => IdleTimeout / 20 < TimeSpan.FromMinutes(1) ? IdleTimeout / 20 : TimeSpan.FromMinutes(1);

    /// <summary>Opens a session for <paramref name="subjectId"/>; returns the cookie value (shown to nobody but the browser).</summary>
    protected async Task<string> OpenSessionAsync(string subjectId, string binding, CancellationToken cancellationToken)
    {
        var now = timeProvider.GetUtcNow();
        if (_purge.Due(now))
        {
            // Sessions nobody logged out of stay in the table until their idle time is up; sweep them at sign-in.
            await store.DeleteWebSessionsIdleSinceAsync(kind, now - IdleTimeout, cancellationToken);
        }

        var value = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        await store.CreateWebSessionAsync(new WebSession(IdOf(value), kind, subjectId, binding, now, now), MaxPerSubject, cancellationToken);
        return value;
    }

    /// <summary>The live session for a cookie value, its use recorded; null when there is none or it was idle too long.</summary>
    public async Task<WebSession?> FindAsync(string? cookie, CancellationToken cancellationToken)
    {
        if (await StoredAsync(cookie, cancellationToken) is not { } session)
        {
            return null;
        }

        var now = timeProvider.GetUtcNow();
        if (now - session.LastSeenAt >= IdleTimeout || now - session.CreatedAt >= Lifetime)
        {
            await store.DeleteWebSessionAsync(session.Id, cancellationToken);
            return null;
        }

        if (now - session.LastSeenAt >= TouchInterval)
        {
            await store.TouchWebSessionAsync(session.Id, now, cancellationToken);
            session = session with { LastSeenAt = now };
        }

        return session;
    }

    /// <summary>
    /// Ends the session a cookie the browser still sends belongs to, if any: called before a login opens a new one, so
    /// signing in again does not leave the earlier session alive on the server beside it.
    /// </summary>
    public async Task CloseCookieAsync(string? cookie, CancellationToken cancellationToken)
    {
        if (await StoredAsync(cookie, cancellationToken) is { } session)
        {
            await store.DeleteWebSessionAsync(session.Id, cancellationToken);
        }
    }

    /// <summary>
    /// Ends the sessions named by cookies the answer deletes without reading them (under TLS the plainly named ones kept
    /// from before the <c>__Host-</c> prefix: <see cref="SessionCookie.PlainValues"/>), as logout would: only a session whose
    /// secret the request itself carries, and only one of this application's kind. A cookie equal to
    /// <paramref name="keep"/> (the live session the request signs in with) is left alone: its session is not ended.
    /// </summary>
    public async Task CloseCookiesAsync(IReadOnlyList<string> cookies, string? keep, CancellationToken cancellationToken)
    {
        foreach (var cookie in cookies)
        {
            if (!string.Equals(cookie, keep, StringComparison.Ordinal))
            {
                await CloseCookieAsync(cookie, cancellationToken);
            }
        }
    }

    /// <summary>
    /// A page served to a live session under TLS: plainly named cookies the request carries beside the session's own
    /// (<c>__Host-</c>) one are deleted and their sessions closed, as at sign-in and logout — else the browser kept
    /// sending them and their sessions lived on until their idle timeout, replayable over plain HTTP. The live session
    /// (<paramref name="live"/>, its cookie value) stays even when a plain cookie holds the same value. A request without
    /// a plain cookie (the common one) costs no store look-up.
    /// </summary>
    public async Task ClosePlainBesideAsync(HttpContext context, SessionCookie cookie, string live)
    {
        var plain = cookie.PlainValues(context.Request);
        if (plain.Count == 0)
        {
            return;
        }

        await CloseCookiesAsync(plain, live, context.RequestAborted);
        cookie.DeletePlain(context);
    }

    /// <summary>
    /// On a page that reads no session (log in, sign up, …): one opened from a signed-in browser (a bookmarked login page,
    /// a link from an email) deletes a plainly named cookie beside the live <c>__Host-</c> session and closes its stored
    /// session, as every signed-in page does (<see cref="ClosePlainBesideAsync"/>): else the browser kept sending it and its
    /// session lived on until its idle timeout, replayable over plain HTTP. A request without a plain cookie (the common
    /// one) costs no store look-up.
    /// </summary>
    public async Task ClosePlainBesideLiveAsync(HttpContext context, SessionCookie cookie)
    {
        if (cookie.PlainValues(context.Request).Count == 0 || cookie.Read(context.Request) is not { } live
            || await FindAsync(live, context.RequestAborted) is null)
        {
            return;
        }

        await ClosePlainBesideAsync(context, cookie, live);
    }

    /// <summary>The stored session of this kind a cookie value names, live or not; null for anything else.</summary>
    private async Task<WebSession?> StoredAsync(string? cookie, CancellationToken cancellationToken) =>
        string.IsNullOrEmpty(cookie) || cookie.Length > 100 || await store.FindWebSessionAsync(IdOf(cookie), cancellationToken) is not { } session
            || session.Kind != kind
            ? null
            : session;

    /// <summary>Ends a session on every instance (logout, or what it was opened under no longer holds).</summary>
    public Task CloseAsync(WebSession session, CancellationToken cancellationToken) => store.DeleteWebSessionAsync(session.Id, cancellationToken);

    /// <summary>How many sessions are live, on every instance sharing the store.</summary>
    public Task<int> CountAsync(CancellationToken cancellationToken) =>
        store.CountWebSessionsAsync(kind, timeProvider.GetUtcNow() - IdleTimeout, cancellationToken);

    private static string IdOf(string cookie) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(cookie)));
}
