using System.Net;
using ApiGate.Core.Management;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>Requests from an HTTP/2 client (one that can receive trailers) through a gateway route to a scripted backend.</summary>
internal static class Http2ThroughRoute
{
    /// <summary>
    /// One GET of <c>/r/x</c> from an HTTP/2 client on the gateway's h2c port, through a route <c>/r/*</c> (completed by <paramref name="route"/>) to a backend that answers <paramref name="upstreamResponse"/>.
    /// </summary>
    public static async Task<(HttpResponseMessage Response, string Body)> GetAsync(string upstreamResponse, Func<RouteInput, RouteInput> route)
    {
        await using var backend = await ScriptedBackend.StartAsync(upstreamResponse);
        await using var gateway = await TestGateway.StartAsync(o => o.H2cPort = 0);
        await gateway.AddUpstreamAsync("backend", backend.Url);
        await gateway.AddRouteAsync(route(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend" }));
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, gateway.Addresses.ElementAt(1) + "/r/x")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        var response = await client.SendAsync(request);
        return (response, await response.Content.ReadAsStringAsync());
    }
}
