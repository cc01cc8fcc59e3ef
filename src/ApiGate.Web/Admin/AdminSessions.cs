using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using ApiGate.Gateway.Admin;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Web.Admin;

/// <summary>
/// The admin console's sessions, held in this process: a random 256-bit cookie value maps (by its SHA-256) to the
/// admin token it was opened with. A session ends at logout, after <see cref="GatewayOptions.AdminUiSessionIdle"/>
/// without a request, or when its admin token stops being valid.
/// </summary>
internal sealed class AdminSessions(GatewayOptions options, TimeProvider timeProvider)
{
    /// <summary>The session cookie's name.</summary>
    public const string CookieName = "apigate_ui_session";

    private const int MaxSessions = 10_000;

    private readonly ConcurrentDictionary<string, AdminSession> _sessions = new(StringComparer.Ordinal);

    public TimeSpan IdleTimeout => options.AdminUiSessionIdle;

    /// <summary>Opens a session; returns the cookie value (shown to nobody but the browser).</summary>
    public string Open(string token, AdminCaller caller)
    {
        var now = timeProvider.GetUtcNow();
        if (_sessions.Count >= MaxSessions / 2)
        {
            RemoveExpired(now);
        }

        if (_sessions.Count >= MaxSessions)
        {
            // Every slot is a live session: drop the one idle longest rather than refuse a login.
            var oldest = _sessions.Values.MinBy(s => s.LastSeen);
            if (oldest is not null)
            {
                _sessions.TryRemove(oldest.Id, out _);
            }
        }

        var value = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var id = IdOf(value);
        _sessions[id] = new AdminSession(id, token, caller, now);
        return value;
    }

    /// <summary>The live session for a cookie value, marked as used now; null when there is none or it has been idle too long.</summary>
    public AdminSession? Find(string? cookie)
    {
        if (string.IsNullOrEmpty(cookie) || cookie.Length > 100 || !_sessions.TryGetValue(IdOf(cookie), out var session))
        {
            return null;
        }

        var now = timeProvider.GetUtcNow();
        if (now - session.LastSeen >= options.AdminUiSessionIdle)
        {
            _sessions.TryRemove(session.Id, out _);
            return null;
        }

        session.Touch(now);
        return session;
    }

    /// <summary>Ends a session (logout, or its token was refused).</summary>
    public void Close(AdminSession session) => _sessions.TryRemove(session.Id, out _);

    /// <summary>How many sessions are open (tests, the settings page).</summary>
    public int Count => _sessions.Count;

    private void RemoveExpired(DateTimeOffset now)
    {
        foreach (var (id, session) in _sessions)
        {
            if (now - session.LastSeen >= options.AdminUiSessionIdle)
            {
                _sessions.TryRemove(id, out _);
            }
        }
    }

    private static string IdOf(string cookie) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(cookie)));
}
