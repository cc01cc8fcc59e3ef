using ApiGate.Gateway.Admin;

namespace ApiGate.Web.Admin;

/// <summary>A signed-in admin console session: who (the admin token's id and name) and when it was last used.</summary>
internal sealed class AdminSession(string id, string token, AdminCaller caller, DateTimeOffset created)
{
    /// <summary>The SHA-256 of the cookie value (the cookie itself is not kept).</summary>
    public string Id { get; } = id;

    /// <summary>The admin token the session was opened with, kept in memory only, so every request is checked against
    /// the store the way the admin API checks it (a revoked token ends its sessions within a second).</summary>
    public string Token { get; } = token;

    public AdminCaller Caller { get; } = caller;

    public DateTimeOffset Created { get; } = created;

    private long _lastSeenTicks = created.UtcTicks;

    public DateTimeOffset LastSeen => new(Interlocked.Read(ref _lastSeenTicks), TimeSpan.Zero);

    public void Touch(DateTimeOffset now) => Interlocked.Exchange(ref _lastSeenTicks, now.UtcTicks);
}
