using ApiGate.Core.Cors;
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
        if (request.Policies.Cors is not { } policy || Apply(request.HttpContext, policy, out var refusal))
        {
            return ValueTask.FromResult(true);
        }

        return refusal is null ? ValueTask.FromResult(false) : request.RejectAsync(refusal);
    }

    /// <summary>
    /// Applies <paramref name="policy"/> to the request: true for an actual request (its headers are set, it goes on);
    /// false for a preflight, answered 204 here or, with <paramref name="refusal"/>, to be answered with that error.
    /// </summary>
    public static bool Apply(HttpContext http, CorsPolicy policy, out GatewayError? refusal)
    {
        refusal = null;
        var origin = CorsHeaders.OriginOf(http.Request);
        if (CorsHeaders.PreflightMethod(http.Request) is not { } method)
        {
            CorsHeaders.ApplyActual(http.Response.Headers, policy, origin);
            return true;
        }

        var requestedHeaders = http.Request.Headers.AccessControlRequestHeaders;
        string? problem = null;
        var allowed = origin is null ? null : policy.AllowOriginFor(origin);
        if (allowed is null)
        {
            problem = origin is null
                ? "the request's Origin is empty or sent more than once; a preflight names one origin"
                : "the request's Origin is not allowed by this route's CORS policy";
        }
        else if (method.Length == 0 || http.Request.Headers.AccessControlRequestMethod.Count > 1)
        {
            problem = "the request's Access-Control-Request-Method is empty or sent more than once; a preflight names one method";
        }
        else if (!policy.AllowsMethod(method))
        {
            problem = $"method {method} is not allowed by this route's CORS policy (allowed: {policy.AllowMethods})";
        }
        else if (!policy.AllowsHeaders(requestedHeaders.ToString(), out var header))
        {
            problem = $"request header {header} is not allowed by this route's CORS policy";
        }

        if (problem is not null)
        {
            http.Response.Headers.Vary = CorsHeaders.PreflightVary;
            refusal = PreflightRefused with { Detail = problem };
            return false;
        }

        CorsHeaders.ApplyPreflight(http.Response.Headers, policy, allowed!, requestedHeaders);
        http.Response.StatusCode = StatusCodes.Status204NoContent;
        return false;
    }

    /// <summary>403 for a preflight the route's policy does not allow; it carries no <c>Access-Control-Allow-*</c> header.</summary>
    public static readonly GatewayError PreflightRefused = new(403, "cors_preflight_refused", "Forbidden", "");
}
