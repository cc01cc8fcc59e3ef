using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace ApiGate.Web.Portal;

/// <summary>A customer's portal session: who, the password hash it was opened under, and when it was last used.</summary>
internal sealed class PortalSession(string id, string userId, string passwordHash, DateTimeOffset lastSeen)
{
    private long _lastSeenTicks = lastSeen.UtcTicks;

    public string Id { get; } = id;
    public string UserId { get; } = userId;

    /// <summary>The account's password hash at login: a password change or reset ends every older session.</summary>
    public string PasswordHash { get; } = passwordHash;

    public DateTimeOffset LastSeen => new(Interlocked.Read(ref _lastSeenTicks), TimeSpan.Zero);

    public void Touch(DateTimeOffset now) => Interlocked.Exchange(ref _lastSeenTicks, now.UtcTicks);
}

/// <summary>
/// Portal sessions, held in this process: a random 256-bit cookie value maps (by its SHA-256) to the user it was
/// opened for. A session ends at logout, after <see cref="IdleTimeout"/> without a request, when the password changes,
/// or when the user is no longer active (checked on every page by <see cref="PortalSessionGate"/>).
/// </summary>
internal sealed class PortalSessions(TimeProvider timeProvider)
{
    /// <summary>The session cookie's name.</summary>
    public const string CookieName = "apigate_portal_session";

    /// <summary>A session ends after this long without a request.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromHours(12);

    private const int MaxSessions = 100_000;

    private readonly ConcurrentDictionary<string, PortalSession> _sessions = new(StringComparer.Ordinal);

    /// <summary>Opens a session; returns the cookie value.</summary>
    public string Open(string userId, string passwordHash)
    {
        var now = timeProvider.GetUtcNow();
        if (_sessions.Count >= MaxSessions / 2)
        {
            foreach (var (key, session) in _sessions)
            {
                if (now - session.LastSeen >= IdleTimeout)
                {
                    _sessions.TryRemove(key, out _);
                }
            }
        }

        if (_sessions.Count >= MaxSessions && _sessions.Values.MinBy(s => s.LastSeen) is { } oldest)
        {
            _sessions.TryRemove(oldest.Id, out _);
        }

        var value = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var id = IdOf(value);
        _sessions[id] = new PortalSession(id, userId, passwordHash, now);
        return value;
    }

    /// <summary>The live session for a cookie value, marked as used now; null when there is none or it was idle too long.</summary>
    public PortalSession? Find(string? cookie)
    {
        if (string.IsNullOrEmpty(cookie) || cookie.Length > 100 || !_sessions.TryGetValue(IdOf(cookie), out var session))
        {
            return null;
        }

        var now = timeProvider.GetUtcNow();
        if (now - session.LastSeen >= IdleTimeout)
        {
            _sessions.TryRemove(session.Id, out _);
            return null;
        }

        session.Touch(now);
        return session;
    }

    public void Close(PortalSession session) => _sessions.TryRemove(session.Id, out _);

    private static string IdOf(string cookie) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(cookie)));
}
