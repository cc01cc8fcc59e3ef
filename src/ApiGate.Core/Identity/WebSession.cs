namespace ApiGate.Core.Identity;

/// <summary>Which web application a <see cref="WebSession"/> belongs to.</summary>
public enum WebSessionKind
{
    /// <summary>The admin console (<c>/ui</c>); the subject is an admin token id.</summary>
    Admin,

    /// <summary>The customer portal (<c>/portal</c>); the subject is a user id.</summary>
    Portal,
}

/// <summary>
/// A signed-in browser of the admin console or the portal, kept in the store so that every instance sharing it knows
/// the session (a load balancer may send each request to another instance). The browser holds a random cookie value;
/// only its SHA-256 is stored, as <see cref="Id"/>.
/// </summary>
/// <param name="Id">The SHA-256 of the cookie value, upper-case hex.</param>
/// <param name="Kind">Console or portal.</param>
/// <param name="SubjectId">Who: the admin token's id (console) or the user's id (portal).</param>
/// <param name="Binding">
/// What the session was opened under and must still hold: for the portal a fingerprint of the password hash (a password
/// change ends older sessions); empty for the console (the token's revocation ends its sessions).
/// </param>
/// <param name="CreatedAt">When the session was opened.</param>
/// <param name="LastSeenAt">When it was last used (recorded at most about once a minute).</param>
public sealed record WebSession(string Id, WebSessionKind Kind, string SubjectId, string Binding, DateTimeOffset CreatedAt, DateTimeOffset LastSeenAt);
