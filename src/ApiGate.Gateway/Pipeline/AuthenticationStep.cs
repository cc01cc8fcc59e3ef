using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Identity;
using Microsoft.AspNetCore.Http;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// SPEC §1 steps 2.1–2.2 for routes with <c>auth_required</c>: take the key from <c>Authorization: Bearer</c>, else
/// <c>X-API-Key</c>, else (when enabled) the <c>api_key</c> query parameter, and authenticate it. On a route whose
/// <c>auth_scheme</c> is <c>jwt</c> the bearer value is a JWT instead; with <c>key_or_jwt</c> a bearer value shaped as a
/// JWT is checked as one and anything else as a key.
/// </summary>
internal sealed class AuthenticationStep(
    ApiKeyAuthenticator authenticator, Identity.Jwt.JwtAuthenticator jwt, KeyUsageTracker usage, GatewayOptions options, TimeProvider timeProvider) : IRequestStep
{
    public ValueTask<bool> InvokeAsync(GatewayRequest request)
    {
        if (!request.Route.Definition.AuthRequired)
        {
            return ValueTask.FromResult(true);
        }

        var scheme = request.Route.Definition.AuthScheme;
        if (scheme != Core.Routing.AuthScheme.Key)
        {
            var (bearer, twoTokens) = BearerToken(request.HttpContext.Request);
            if (twoTokens && scheme == Core.Routing.AuthScheme.Jwt)
            {
                // Two callers, as with two keys: which one counts would be the gateway's guess (RFC 6750 §3.1: one token).
                // On key_or_jwt the key extraction below finds the same two values and refuses them alike.
                return request.RejectAsync(AmbiguousCredentials);
            }

            if (scheme == Core.Routing.AuthScheme.Jwt || (bearer is not null && LooksLikeJwt(bearer)))
            {
                if (bearer is null)
                {
                    return request.RejectAsync(Identity.Jwt.JwtAuthenticator.Errors.Missing);
                }

                // Where a key is a credential too, a token and a key are two callers: refused, not resolved by precedence.
                return scheme == Core.Routing.AuthScheme.KeyOrJwt && HasKeyBesidesAuthorization(request.HttpContext.Request, options.AuthAllowQueryKey)
                    ? request.RejectAsync(AmbiguousCredentials)
                    : AuthenticateJwtAsync(request, bearer);
            }
        }

        var (presented, found, ambiguous) = Extract(request.HttpContext.Request, options.AuthAllowQueryKey);
        if (ambiguous)
        {
            return request.RejectAsync(AmbiguousCredentials);
        }

        if (!found)
        {
            return request.RejectAsync(ApiKeyAuthenticator.Errors.Missing);
        }

        var pending = authenticator.AuthenticateAsync(presented, request.Snapshot, request.HttpContext.RequestAborted);
        return pending.IsCompletedSuccessfully ? Complete(request, pending.Result) : AwaitAsync(request, pending);
    }

    private async ValueTask<bool> AuthenticateJwtAsync(GatewayRequest request, string token)
    {
        var (identity, error) = await jwt.AuthenticateAsync(token, request.Snapshot);
        if (error is not null)
        {
            return await request.RejectAsync(error);
        }

        request.Caller = identity;
        return true;
    }

    /// <summary>
    /// The <c>Authorization: Bearer</c> value (trimmed), or null when there is none; <c>TwoTokens</c> when the header is
    /// repeated with different bearer values. The same value sent twice is one token, as the same key sent twice is one key.
    /// </summary>
    private static (string? Token, bool TwoTokens) BearerToken(HttpRequest request)
    {
        string? token = null;
        foreach (var value in request.Headers.Authorization)
        {
            if (!IsBearer(value) || value![7..].Trim() is not { Length: > 0 } candidate)
            {
                continue;
            }

            if (token is null)
            {
                token = candidate;
            }
            else if (!string.Equals(token, candidate, StringComparison.Ordinal))
            {
                return (null, true);
            }
        }

        return (token, false);
    }

    /// <summary>
    /// <c>Bearer</c> in any case, then a space or a tab: the form the forwarder strips as a credential
    /// (<see cref="Credentials.IsApiKeyAuthorization"/>), so a key sent with a tab is read, not refused as missing.
    /// </summary>
    private static bool IsBearer(string? value) =>
        value is { Length: > 7 } && value.StartsWith("Bearer", StringComparison.OrdinalIgnoreCase) && value[6] is ' ' or '\t';

    /// <summary>True when the request also sends a key in <c>X-API-Key</c> (or <c>?api_key</c> where allowed).</summary>
    private static bool HasKeyBesidesAuthorization(HttpRequest request, bool allowQuery) =>
        request.Headers[Credentials.ApiKeyHeader].Any(v => !string.IsNullOrWhiteSpace(v))
        || (allowQuery && request.Query[Credentials.QueryParameter].Any(v => !string.IsNullOrWhiteSpace(v)));

    /// <summary>A compact JWS: three base64url parts, the header starting <c>eyJ</c> (<c>{"</c>); API keys never look like this.</summary>
    private static bool LooksLikeJwt(string value) =>
        value.StartsWith("eyJ", StringComparison.Ordinal) && value.AsSpan().Count('.') == 2;

    private async ValueTask<bool> AwaitAsync(GatewayRequest request, ValueTask<(RequestIdentity?, GatewayError?)> pending) =>
        await Complete(request, await pending);

    private ValueTask<bool> Complete(GatewayRequest request, (RequestIdentity? Identity, GatewayError? Error) result)
    {
        if (result.Error is { } error)
        {
            return request.RejectAsync(error);
        }

        request.Caller = result.Identity;
        usage.Touch(result.Identity!.Key.Id, timeProvider.GetUtcNow());
        return ValueTask.FromResult(true);
    }

    /// <summary>
    /// The presented key. Every place a key can be sent is read; two different keys (in two
    /// places, or one header or parameter repeated) are ambiguous and refused rather than resolved by an order the client
    /// may not expect. The same key sent twice is fine. The key is a slice of the header (or parameter) value: no copy.
    /// </summary>
    private static (ReadOnlyMemory<char> Key, bool Found, bool Ambiguous) Extract(HttpRequest request, bool allowQuery)
    {
        var key = new KeySlot();
        foreach (var value in request.Headers.Authorization)
        {
            if (IsBearer(value))
            {
                key.Offer(value.AsMemory(7));
            }
        }

        foreach (var value in request.Headers[Credentials.ApiKeyHeader])
        {
            key.Offer(value.AsMemory());
        }

        if (allowQuery)
        {
            foreach (var value in request.Query[Credentials.QueryParameter])
            {
                key.Offer(value.AsMemory());
            }
        }

        return (key.Key, key.Found, key.Ambiguous);
    }

    /// <summary>The first non-blank key offered (trimmed), and whether a different one followed.</summary>
    private struct KeySlot
    {
        public ReadOnlyMemory<char> Key;
        public bool Found;
        public bool Ambiguous;

        public void Offer(ReadOnlyMemory<char> value)
        {
            value = value.Trim();
            if (value.IsEmpty)
            {
                return;
            }

            if (!Found)
            {
                Key = value;
                Found = true;
            }
            else if (!Key.Span.SequenceEqual(value.Span))
            {
                Ambiguous = true;
            }
        }
    }

    /// <summary>400 when a request carries two different credentials (keys, tokens, or a token and a key).</summary>
    public static readonly GatewayError AmbiguousCredentials = new(400, "ambiguous_credentials", "Bad Request",
        "The request carries more than one different credential (Authorization, X-API-Key, api_key): send exactly one.");
}
