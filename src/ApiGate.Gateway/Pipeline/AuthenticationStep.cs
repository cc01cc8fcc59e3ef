using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Identity;
using Microsoft.AspNetCore.Http;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// SPEC §1 steps 2.1–2.2 for routes with <c>auth_required</c>: take the key from <c>Authorization: Bearer</c>, else
/// <c>X-API-Key</c>, else (when enabled) the <c>api_key</c> query parameter, and authenticate it.
/// </summary>
internal sealed class AuthenticationStep(ApiKeyAuthenticator authenticator, KeyUsageTracker usage, GatewayOptions options, TimeProvider timeProvider) : IRequestStep
{
    public ValueTask<bool> InvokeAsync(GatewayRequest request)
    {
        if (!request.Route.Definition.AuthRequired)
        {
            return ValueTask.FromResult(true);
        }

        var (presented, ambiguous) = Extract(request.HttpContext.Request, options.AuthAllowQueryKey);
        if (ambiguous)
        {
            return request.RejectAsync(AmbiguousCredentials);
        }

        if (presented is null)
        {
            return request.RejectAsync(ApiKeyAuthenticator.Errors.Missing);
        }

        var pending = authenticator.AuthenticateAsync(presented, request.Snapshot, request.HttpContext.RequestAborted);
        return pending.IsCompletedSuccessfully ? Complete(request, pending.Result) : AwaitAsync(request, pending);
    }

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
    /// may not expect. The same key sent twice is fine.
    /// </summary>
    private static (string? Key, bool Ambiguous) Extract(HttpRequest request, bool allowQuery)
    {
        string? key = null;
        var ambiguous = false;

        void Offer(string? value)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                return;
            }

            value = value.Trim();
            if (key is null)
            {
                key = value;
            }
            else if (!string.Equals(key, value, StringComparison.Ordinal))
            {
                ambiguous = true;
            }
        }

        foreach (var value in request.Headers.Authorization)
        {
            if (value is { Length: > 7 } && value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            {
                Offer(value[7..]);
            }
        }

        foreach (var value in request.Headers[Credentials.ApiKeyHeader])
        {
            Offer(value);
        }

        if (allowQuery)
        {
            foreach (var value in request.Query[Credentials.QueryParameter])
            {
                Offer(value);
            }
        }

        return (key, ambiguous);
    }

    /// <summary>400 when a request carries two different keys.</summary>
    public static readonly GatewayError AmbiguousCredentials = new(400, "ambiguous_credentials", "Bad Request",
        "The request carries more than one different API key (Authorization, X-API-Key, api_key): send exactly one.");
}
