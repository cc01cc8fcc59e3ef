using ApiGate.Core.Identity;

namespace ApiGate.Core.Storage;

/// <summary>
/// The sessions of the admin console and the portal, and the key that protects their forms (antiforgery), kept in the
/// store so that several instances behind a load balancer share them without sticky sessions. Not configuration: no
/// write bumps the config version, and <c>store copy</c> does not copy them.
/// </summary>
public interface IWebSessionStore
{
    /// <summary>
    /// Inserts the session and, in the same transaction, ends its subject's sessions of that kind beyond the
    /// <paramref name="keepPerSubject"/> used most recently (the new one included), so sign-ins in a loop cannot grow
    /// the table without bound.
    /// </summary>
    Task CreateWebSessionAsync(WebSession session, int keepPerSubject, CancellationToken cancellationToken);

    /// <summary>The session with this id (the cookie value's hash), or null.</summary>
    Task<WebSession?> FindWebSessionAsync(string id, CancellationToken cancellationToken);

    /// <summary>Records a use; a later time than the stored one only (two instances touching at once keep the later).</summary>
    Task TouchWebSessionAsync(string id, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Ends one session (logout, or what it was opened under no longer holds).</summary>
    Task DeleteWebSessionAsync(string id, CancellationToken cancellationToken);

    /// <summary>Ends every session of <paramref name="kind"/> last used before <paramref name="before"/>; returns how many.</summary>
    Task<int> DeleteWebSessionsIdleSinceAsync(WebSessionKind kind, DateTimeOffset before, CancellationToken cancellationToken);

    /// <summary>How many sessions of <paramref name="kind"/> were used at or after <paramref name="since"/>.</summary>
    Task<int> CountWebSessionsAsync(WebSessionKind kind, DateTimeOffset since, CancellationToken cancellationToken);

    /// <summary>The forms' protection key (an XML element, decrypted), or null before the first instance made one.</summary>
    Task<string?> GetWebKeyAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Stores the forms' protection key unless one is stored already (the first writer wins, so instances starting
    /// together agree on one key); encrypted with <c>APIGATE_SECRET_KEY</c> when it is set, like every stored secret.
    /// </summary>
    Task AddWebKeyAsync(string xml, DateTimeOffset at, CancellationToken cancellationToken);
}
