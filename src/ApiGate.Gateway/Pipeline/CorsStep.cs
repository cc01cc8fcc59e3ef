using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Cors;
using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Pipeline;

/// <summary>
/// The first step of the request path (docs/routing.md, CORS): on a route with a CORS policy, a preflight is
/// answered here — before authentication, rate limit and quota, so it needs no key and is never counted — and an
/// actual request gets its <c>Access-Control-*</c> headers now, so the gateway's own error answers (401, 429, …) carry
/// them too. A route without a policy costs one null check.
/// </summary>
internal sealed class CorsStep : IRequestStep
{
    public ValueTask<bool> InvokeAsync(GatewayRequest request)
    {
        if (request.Policies.Cors is not { } policy)
        {
            return ValueTask.FromResult(true);
        }

        var http = request.HttpContext;
        var origin = CorsHeaders.OriginOf(http.Request);
        if (CorsHeaders.PreflightMethod(http.Request) is not { } method)
        {
            CorsHeaders.ApplyActual(http.Response.Headers, policy, origin);
            return ValueTask.FromResult(true);
        }

        var requestedHeaders = http.Request.Headers.AccessControlRequestHeaders;
        string? refusal = null;
        var allowed = policy.AllowOriginFor(origin!);
        if (allowed is null)
        {
            refusal = "the request's Origin is not allowed by this route's CORS policy";
        }
        else if (!policy.AllowsMethod(method))
        {
            refusal = $"method {method} is not allowed by this route's CORS policy (allowed: {policy.AllowMethods})";
        }
        else if (!policy.AllowsHeaders(requestedHeaders.ToString(), out var header))
        {
            refusal = $"request header {header} is not allowed by this route's CORS policy";
        }

        if (refusal is not null)
        {
            http.Response.Headers.Vary = CorsHeaders.PreflightVary;
            return request.RejectAsync(PreflightRefused with { Detail = refusal });
        }

        CorsHeaders.ApplyPreflight(http.Response.Headers, policy, allowed!, requestedHeaders);
        http.Response.StatusCode = StatusCodes.Status204NoContent;
        return ValueTask.FromResult(false);
    }

    /// <summary>403 for a preflight the route's policy does not allow; it carries no <c>Access-Control-Allow-*</c> header.</summary>
    public static readonly GatewayError PreflightRefused = new(403, "cors_preflight_refused", "Forbidden", "");
}
