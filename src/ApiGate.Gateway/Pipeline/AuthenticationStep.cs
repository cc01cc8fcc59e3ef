using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Identity;
using Microsoft.AspNetCore.Http;

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

        var (presented, source) = Extract(request.HttpContext.Request, options.AuthAllowQueryKey);
        if (presented is null)
        {
            return request.RejectAsync(ApiKeyAuthenticator.Errors.Missing);
        }

        request.CredentialSource = source;
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

    private static (string? Key, CredentialSource Source) Extract(HttpRequest request, bool allowQuery)
    {
        var authorization = request.Headers.Authorization;
        if (authorization.Count == 1 && authorization[0] is { Length: > 7 } value && value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return (value[7..].Trim(), CredentialSource.AuthorizationBearer);
        }

        var header = request.Headers["X-API-Key"];
        if (header.Count == 1 && !string.IsNullOrWhiteSpace(header[0]))
        {
            return (header[0]!.Trim(), CredentialSource.ApiKeyHeader);
        }

        if (allowQuery && request.Query["api_key"] is { Count: 1 } query && !string.IsNullOrWhiteSpace(query[0]))
        {
            return (query[0]!.Trim(), CredentialSource.QueryParameter);
        }

        return (null, default);
    }

}
