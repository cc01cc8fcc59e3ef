using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Forwarding;

/// <summary>
/// An upstream header or trailer value the server cannot write (a control character, raw UTF-8) is left out; the rest
/// of the response passes. It used to fail the whole exchange with 500 transform_error (headers) or a reset stream
/// (trailers to an HTTP/2 client), on every kind of route. So did a 204 that stated a Content-Length.
/// </summary>
public sealed class UnsendableUpstreamHeadersTests
{
    [Theory]
    [InlineData("http")]
    [InlineData("sse")]
    public async Task UpstreamHeaderWithAControlCharacterOrRawUtf8_IsLeftOut_TheResponsePasses(string protocol)
    {
        await using var backend = await ScriptedBackend.StartAsync(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Ok: fine\r\nX-Control: a\u0001b\r\nContent-Disposition: attachment; filename=\"café.pdf\"\r\n\r\nok");
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", backend.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend", Protocol = protocol });

        using var response = await gateway.Client.GetAsync(gateway.Url + "/r/x");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        Assert.Equal("fine", Assert.Single(response.Headers.GetValues("X-Ok")));
        Assert.False(response.Headers.Contains("X-Control"));
        Assert.Null(response.Content.Headers.ContentDisposition);
    }

    [Theory]
    [InlineData("http")]
    [InlineData("sse")]
    public async Task UpstreamTrailerWithAControlCharacter_IsLeftOut_ForAnHttp2Client(string protocol)
    {
        var (response, body) = await GetOverHttp2Async(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Bad-Trailer: a\u0001b\r\nX-Good-Trailer: fine\r\n\r\n", protocol);
        using var disposeResponse = response;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", body);
        Assert.Equal("fine", Assert.Single(response.TrailingHeaders.GetValues("X-Good-Trailer")));
        Assert.False(response.TrailingHeaders.Contains("X-Bad-Trailer"));
    }

    [Theory]
    [InlineData("http")]
    [InlineData("sse")]
    public async Task NoContentWithAContentLength_IsPassedOnAsNoContent(string protocol)
    {
        await using var backend = await ScriptedBackend.StartAsync("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\nX-Ok: fine\r\n\r\n");
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", backend.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend", Protocol = protocol });

        using var response = await gateway.Client.GetAsync(gateway.Url + "/r/x");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("fine", Assert.Single(response.Headers.GetValues("X-Ok")));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("http", "Content-Length: 2\r\nContent-Length: 2")]
    [InlineData("http_stream", "Content-Length: 2\r\nContent-Length: 2")]
    [InlineData("sse", "Content-Length: 2\r\nContent-Length: 2")]
    [InlineData("sse", "Content-Length: 2, 2")]
    public async Task ContentLengthRepeatedWithOneValue_IsPassedOnAsOne(string protocol, string contentLength)
    {
        // Arrange
        await using var backend = await ScriptedBackend.StartAsync($"HTTP/1.1 200 OK\r\n{contentLength}\r\n\r\nok");
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", backend.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend", Protocol = protocol });

        // Act
        var response = await RawHttp.GetAsync(gateway.Url, "/r/x");

        // Assert
        Assert.Equal(200, response.Status);
        Assert.Equal("2", response.Headers["Content-Length"]);
        Assert.Equal("ok", response.Body);
    }

    [Theory]
    [InlineData("http", "Content-Length: 2\r\nContent-Length: 3")]
    [InlineData("http", "Content-Length: 3, 2")]
    [InlineData("http", "Content-Length: 2, 2")]
    [InlineData("http", "Content-Length: abc")]
    [InlineData("http", "Content-Length: +2")]
    [InlineData("http_stream", "Content-Length: 2\r\nContent-Length: 3")]
    [InlineData("sse", "Content-Length: 2\r\nContent-Length: 3")]
    public async Task InvalidOrConflictingContentLength_502UpstreamError_CountedAgainstTheTarget(string protocol, string contentLength)
    {
        // Arrange
        await using var backend = await ScriptedBackend.StartAsync($"HTTP/1.1 200 OK\r\n{contentLength}\r\n\r\nokk", thenClose: true);
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", backend.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend", Protocol = protocol });

        // Act
        var response = await RawHttp.GetAsync(gateway.Url, "/r/x");

        // Assert: the upstream's fault (RFC 9112 §6.3), not a failed transform (500 transform_error, target not blamed).
        Assert.Equal(502, response.Status);
        Assert.Equal("upstream_error", response.ErrorCode);
        var targets = gateway.Service<ApiGate.Gateway.Balancing.TargetRegistry>();
        Assert.True(await Balancing.BalancingTestBase.EventuallyAsync(() => targets.Statuses().Single().FailuresTotal == 1, TimeSpan.FromSeconds(5)));
    }

    [Theory]
    [InlineData("http")]
    [InlineData("sse")]
    public async Task HeaderOnlyFieldsAsTrailers_AreLeftOut_WithEitherUpstreamClient(string protocol)
    {
        var (response, body) = await GetOverHttp2Async(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n"
            + "WWW-Authenticate: Basic realm=\"x\"\r\nLocation: https://elsewhere.example/\r\nContent-Type: text/html\r\n"
            + "Set-Cookie: planted=1\r\nRetry-After: 5\r\nCache-Control: no-store\r\nX-Good-Trailer: fine\r\n\r\n", protocol);
        using var disposeResponse = response;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", body);
        Assert.Equal("fine", Assert.Single(response.TrailingHeaders.GetValues("X-Good-Trailer")));
        Assert.Equal(["x-good-trailer"], response.TrailingHeaders.NonValidated.Select(h => h.Key.ToLowerInvariant()));
    }

    private static Task<(HttpResponseMessage Response, string Body)> GetOverHttp2Async(string upstreamResponse, string protocol) =>
        Http2ThroughRoute.GetAsync(upstreamResponse, r => r with { Protocol = protocol });
}
