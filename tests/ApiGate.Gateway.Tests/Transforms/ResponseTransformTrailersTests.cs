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

    private static Task<(HttpResponseMessage Response, string Body)> GetOverHttp2Async(string upstreamResponse, string responseTransform) =>
        Http2ThroughRoute.GetAsync(upstreamResponse, r => r with { ResponseTransform = responseTransform });
}
