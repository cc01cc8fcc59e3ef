using System.Collections.Concurrent;
using ApiGate.Core.Identity;
using ApiGate.Core.Storage;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// Admits a request to the admin API only with <c>Authorization: Bearer &lt;admin token&gt;</c>. The token must have
/// the admin token shape (<c>agt_</c> + 64 hex; an API key never qualifies) and match a stored, unrevoked token by
/// SHA-256, compared in constant time. A verified token is trusted for at most <see cref="TrustFor"/> before the
/// store is asked again, so a revocation (from any process sharing the store) applies within a second.
/// </summary>
/// <remarks>
/// Verifying only reads the store: the token's <c>last_used_at</c> is recorded in memory and written by
/// <see cref="Limits.UsageFlusher"/> on the store writer thread, so an admin GET never writes and never waits for the
/// database lock.
/// </remarks>
internal sealed partial class AdminAuthenticator(IGatewayStore store, Identity.KeyUsageTracker usage, TimeProvider timeProvider, ILogger<AdminAuthenticator> logger)
{
    /// <summary>How long a verified token is trusted without asking the store again.</summary>
    public static readonly TimeSpan TrustFor = TimeSpan.FromSeconds(1);

    private const int MaxCached = 1024;

    private readonly ConcurrentDictionary<KeyHash, (long Until, AdminCaller Caller)> _trusted = new();

    private readonly ConcurrentDictionary<string, (long Until, AdminCaller Caller)> _trustedIds = new(StringComparer.Ordinal);

    // "Are there any tokens?" only words the refusal; answered from the store at most once per TrustFor, so callers
    // without a credential cannot make every request a store query.
    private long _noneConfiguredCheckedAt = long.MinValue / 2;
    private bool _noneConfigured;

    /// <summary>Middleware: answers 401 unless the request carries a valid admin token; else sets <see cref="AdminCaller"/>.</summary>
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var authorization = context.Request.Headers.Authorization;
        var (refusal, caller) = SeveralCredentials(authorization) is { } several
            ? (await NoneConfiguredAsync(context.RequestAborted) ?? several, null)
            : await VerifyAsync(authorization.ToString(), context.RequestAborted);
        if (caller is not null)
        {
            context.Features.Set(caller);
            await next(context);
            return;
        }

        refusal ??= "the admin token is not valid";
        LogRefused(context.Request.Method, AdminAuditLog.LoggedPath(context.Request), context.Connection.RemoteIpAddress?.ToString() ?? "", refusal);
        context.Response.Headers.WWWAuthenticate = "Bearer realm=\"apigate-admin\"";
        await AdminErrors.Write(StatusCodes.Status401Unauthorized, "unauthorized", "Unauthorized", refusal, null).ExecuteAsync(context);
    }

    /// <summary>
    /// Why a request that carries more than one credential — several <c>Authorization</c> headers, or a comma-separated
    /// list in one — is refused, or null when it carries at most one. Read as one value they would be "not an admin
    /// token", which is wrong when each of them is one; which of them to use would be a guess, so none is.
    /// </summary>
    internal static string? SeveralCredentials(Microsoft.Extensions.Primitives.StringValues authorization)
    {
        if (authorization.Count > 1)
        {
            return $"the request has {authorization.Count} Authorization headers: send one, with one admin token (Authorization: Bearer <token>)";
        }

        return authorization.Count == 1 && authorization[0] is { } value && value.Contains(',', StringComparison.Ordinal)
            ? "the Authorization header holds more than one credential (a comma-separated list): send one admin token (Authorization: Bearer <token>)"
            : null;
    }

    /// <summary>The token's id and name when the header carries a valid admin token; else why not (never containing the credential).</summary>
    public async Task<(string? Refusal, AdminCaller? Caller)> VerifyAsync(string authorization, CancellationToken ct)
    {
        const string scheme = "Bearer ";
        if (!authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            return (await NoneConfiguredAsync(ct) ?? "send an admin token as Authorization: Bearer <token>", null);
        }

        var token = authorization[scheme.Length..].Trim();
        if (!AdminTokens.IsWellFormed(token))
        {
            return (await NoneConfiguredAsync(ct) ?? "the credential is not an admin token (admin tokens start with " + AdminTokens.TokenPrefix + "; API keys do not open the admin API)", null);
        }

        var hash = ApiKeys.HashValue(token);
        var now = timeProvider.GetUtcNow().UtcTicks;
        if (_trusted.TryGetValue(hash, out var trusted) && now < trusted.Until)
        {
            return (null, trusted.Caller);
        }

        var hex = hash.ToHex();
        AdminTokenDefinition? match = null;
        foreach (var candidate in await store.FindAdminTokensByPrefixAsync(AdminTokens.PrefixOf(token), ct))
        {
            if (ApiKeys.HashesEqual(candidate.Hash, hex))
            {
                match = candidate;
            }
        }

        if (match is null || match.RevokedAt is not null)
        {
            _trusted.TryRemove(hash, out _);
            return (match is null ? await NoneConfiguredAsync(ct) ?? "the admin token is not valid" : "the admin token has been revoked", null);
        }

        return (null, Trust(_trusted, hash, match, now));
    }

    /// <summary>
    /// The caller for a stored admin token id while that token is unrevoked (the admin console's sessions keep the id,
    /// never the token); null once it is revoked or gone. Trusted for <see cref="TrustFor"/> like a verified token.
    /// </summary>
    public async Task<AdminCaller?> VerifyTokenIdAsync(string tokenId, CancellationToken ct)
    {
        var now = timeProvider.GetUtcNow().UtcTicks;
        if (_trustedIds.TryGetValue(tokenId, out var trusted) && now < trusted.Until)
        {
            return trusted.Caller;
        }

        // Looked up by id or name: a name that happens to equal another token's id must not stand in for it.
        var match = await store.FindAdminTokenAsync(tokenId, ct);
        if (match is not null && match.Id != tokenId)
        {
            match = (await store.ListAdminTokensAsync(ct)).FirstOrDefault(t => t.Id == tokenId);
        }

        if (match is null || match.RevokedAt is not null)
        {
            _trustedIds.TryRemove(tokenId, out _);
            return null;
        }

        return Trust(_trustedIds, tokenId, match, now);
    }

    /// <summary>Remembers a verified, unrevoked token for <see cref="TrustFor"/> (in bounded memory) and records its use.</summary>
    private AdminCaller Trust<TKey>(ConcurrentDictionary<TKey, (long Until, AdminCaller Caller)> trusted, TKey key, AdminTokenDefinition match, long now)
        where TKey : notnull
    {
        if (trusted.Count >= MaxCached)
        {
            trusted.Clear();
        }

        var caller = new AdminCaller(match.Id, match.Name);
        trusted[key] = (now + TrustFor.Ticks, caller);
        usage.TouchAdminToken(match.Id, timeProvider.GetUtcNow());
        return caller;
    }

    private async Task<string?> NoneConfiguredAsync(CancellationToken ct)
    {
        var now = timeProvider.GetUtcNow().UtcTicks;
        if (now - Volatile.Read(ref _noneConfiguredCheckedAt) >= TrustFor.Ticks)
        {
            _noneConfigured = await store.CountActiveAdminTokensAsync(ct) == 0;
            Volatile.Write(ref _noneConfiguredCheckedAt, now);
        }

        return _noneConfigured
            ? "no admin token exists, so the admin API refuses every request; create one with: apigate admin tokens create --name <name>"
            : null;
    }

    [LoggerMessage(EventId = 7001, Level = LogLevel.Warning, Message = "Admin API request {Method} {Path} from {RemoteIp} refused: {Reason}")]
    private partial void LogRefused(string method, string path, string remoteIp, string reason);
}
