using Microsoft.AspNetCore.Http;

namespace ApiGate.Gateway.Proxies;

/// <summary>
/// Decides the client address once per request, before anything reads it: for a request from a trusted proxy the
/// connection's <c>RemoteIpAddress</c> becomes the resolved client (<see cref="ForwardedChain"/>), so usage events,
/// access logs, hash load balancing, <c>${client_ip}</c> and the admin audit log all see the same address, and the
/// forwarder writes <see cref="ForwardedClientFeature.ForwardedFor"/> upstream. Added to the application only when
/// <c>APIGATE_TRUSTED_PROXIES</c> is set: without it requests pay nothing. Requests from other peers pass untouched.
/// </summary>
internal sealed class ClientAddressMiddleware(TrustedProxies trusted)
{
    public const string ForwardedForHeader = "X-Forwarded-For";
    public const string ForwardedHeader = "Forwarded";
    public const string RealIpHeader = "X-Real-IP";

    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var connection = context.Connection;
        if (connection.RemoteIpAddress is { } peer && trusted.Contains(peer))
        {
            var headers = context.Request.Headers;
            var client = ForwardedChain.Resolve(
                peer, headers[ForwardedForHeader], headers[ForwardedHeader], headers[RealIpHeader], trusted, out var chain);
            context.Features.Set(new ForwardedClientFeature(peer, chain));
            connection.RemoteIpAddress = client;
        }

        return next(context);
    }

    /// <summary>
    /// The <c>X-Forwarded-For</c> value the upstream gets: the verified chain when the request came through a trusted
    /// proxy (<paramref name="viaProxy"/>, the request's <see cref="ForwardedClientFeature"/>), or the peer alone.
    /// </summary>
    public static string? ForwardedFor(HttpContext context, ForwardedClientFeature? viaProxy) =>
        viaProxy?.ForwardedFor ?? context.Connection.RemoteIpAddress?.ToString();
}
