using System.Security.Cryptography;
using System.Text;
using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using ApiGate.Web.Shared;

namespace ApiGate.Web.Portal;

/// <summary>
/// Portal sessions, kept in the store (every instance sharing it knows them): the cookie's hash maps to the user it
/// was opened for and a fingerprint of the password hash at login. A session ends at logout, after
/// <see cref="IdleTimeout"/> without a request, <see cref="MaxLifetime"/> after login, when the password changes, or when the user is no longer active
/// (checked on every page by <see cref="PortalSessionGate"/>).
/// </summary>
internal sealed class PortalSessions(IGatewayStore store, TimeProvider timeProvider)
    : StoredSessions(store, timeProvider, WebSessionKind.Portal)
{
    /// <summary>The session cookie's name over plain HTTP; under TLS it carries the <c>__Host-</c> prefix (<see cref="Shared.SessionCookie"/>).</summary>
    public const string CookieName = "apigate_portal_session";

    /// <summary>A session ends after this long without a request.</summary>
    public static readonly TimeSpan Idle = TimeSpan.FromHours(12);

    /// <summary>A session ends this long after login, however often it is used.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(7);

    public override TimeSpan IdleTimeout => Idle;

    public override TimeSpan Lifetime => MaxLifetime;

    /// <summary>Opens a session for the user under the password hash they logged in with; returns the cookie value.</summary>
    public Task<string> OpenAsync(string userId, string passwordHash, CancellationToken cancellationToken) =>
        OpenSessionAsync(userId, Fingerprint(passwordHash), cancellationToken);

    /// <summary>Whether <paramref name="session"/> was opened under <paramref name="passwordHash"/>.</summary>
    public static bool OpenedUnder(WebSession session, string passwordHash) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(session.Binding), Encoding.ASCII.GetBytes(Fingerprint(passwordHash)));

    // The stored session keeps a digest of the hash, not a second copy of the hash itself.
    private static string Fingerprint(string passwordHash) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(passwordHash)));
}
