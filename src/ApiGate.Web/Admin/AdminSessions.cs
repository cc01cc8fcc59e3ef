using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using ApiGate.Gateway.Admin;
using ApiGate.Gateway.Configuration;
using ApiGate.Web.Shared;

namespace ApiGate.Web.Admin;

/// <summary>
/// The admin console's sessions, kept in the store (every instance sharing it knows them): the cookie's hash maps to
/// the id of the admin token the session was opened with — never the token. A session ends at logout, after
/// <see cref="GatewayOptions.AdminUiSessionIdle"/> without a request, <see cref="Lifetime"/> after sign-in, or when its
/// admin token is revoked.
/// </summary>
internal sealed class AdminSessions(IGatewayStore store, GatewayOptions options, TimeProvider timeProvider)
    : StoredSessions(store, timeProvider, WebSessionKind.Admin)
{
    /// <summary>The session cookie's name over plain HTTP; under TLS it carries the <c>__Host-</c> prefix (<see cref="Shared.SessionCookie"/>).</summary>
    public const string CookieName = "apigate_ui_session";

    /// <summary>How long a console session lasts at most: a day, or the idle timeout when that is set longer.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(24);

    public override TimeSpan IdleTimeout => options.AdminUiSessionIdle;

    public override TimeSpan Lifetime => options.AdminUiSessionIdle > MaxLifetime ? options.AdminUiSessionIdle : MaxLifetime;

    /// <summary>Opens a session for the admin token that just signed in; returns the cookie value.</summary>
    public Task<string> OpenAsync(AdminCaller caller, CancellationToken cancellationToken) => OpenSessionAsync(caller.TokenId, "", cancellationToken);
}
