using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Transforms;

/// <summary>
/// A response whose JSON body a route's transform rewrites is sent by the gateway itself, not streamed by the forwarder;
/// its trailers must still reach an HTTP/2 client (filtered as on every route). They used to be dropped, so a gRPC
/// call's <c>grpc-status</c> or a checksum trailer vanished whenever the route had body operations.
/// </summary>
public sealed class ResponseTransformTrailersTests
{
    private const string ChunkedJsonWithTrailers =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "1f\r\n{\"_id\":7,\"email\":\"ada@example\"}\r\n0\r\nX-Checksum: abc\r\ngrpc-status: 0\r\nX-Request-ID: planted\r\n\r\n";

    [Theory]
    [InlineData("{\"body\":{\"rename\":{\"_id\":\"id\"}}}", "{\"email\":\"ada@example\",\"id\":7}")]
    [InlineData("{\"body\":{\"remove\":[\"email\"]}}", "{\"_id\":7}")]
    public async Task TransformedJsonBody_Http2Client_UpstreamTrailersFollowTheBody(string transform, string expectedBody)
    {
        var (response, body) = await GetOverHttp2Async(ChunkedJsonWithTrailers, transform);
        using var disposeResponse = response;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expectedBody, body);
        Assert.Equal("abc", Assert.Single(response.TrailingHeaders.GetValues("X-Checksum")));
        Assert.Equal("0", Assert.Single(response.TrailingHeaders.GetValues("grpc-status")));
        Assert.False(response.TrailingHeaders.Contains("X-Request-ID")); // filtered as on every route
    }

    [Fact]
    public async Task WithheldBody_Http2Client_NoUpstreamTrailersOnTheGatewaysError()
    {
        // Declared JSON but not readable as such, on a route that removes a field: withheld, read to its end first.
        var (response, body) = await GetOverHttp2Async(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n0\r\ngrpc-status: 0\r\n\r\n",
            "{\"body\":{\"remove\":[\"email\"]}}");
        using var disposeResponse = response;

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Contains("\"code\":\"response_withheld\"", body, StringComparison.Ordinal);
        Assert.Empty(response.TrailingHeaders);
    }

    /// <summary>One GET through a route with <paramref name="responseTransform"/> to a backend that answers <paramref name="upstreamResponse"/>, from an HTTP/2 client.</summary>
    private static async Task<(HttpResponseMessage Response, string Body)> GetOverHttp2Async(string upstreamResponse, string responseTransform)
    {
        await using var backend = await ScriptedBackend.StartAsync(upstreamResponse);
        await using var gateway = await TestGateway.StartAsync(o => o.H2cPort = 0);
        await gateway.AddUpstreamAsync("backend", backend.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend", ResponseTransform = responseTransform });
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
