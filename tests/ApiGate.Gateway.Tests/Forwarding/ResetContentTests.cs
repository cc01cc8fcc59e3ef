using ApiGate.Core.Management;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Forwarding;

/// <summary>
/// A <c>205 Reset Content</c> has no content (RFC 9110 §15.3.6). An upstream that answers one with a non-zero
/// <c>Content-Length</c> and bytes after it — which the HTTP/1.1 upstream clients read as its body — gets the client the
/// <c>205</c>, with the upstream's other headers, the gateway's request id and no body: the server refuses to send a
/// 205 that states a length or carries bytes, and the client used to get a bare <c>502</c> (no request id, no error
/// document) with the target not even counted.
/// </summary>
public sealed class ResetContentTests
{
    [Theory]
    [InlineData("http", "Content-Length: 5\r\n\r\nhello")]
    [InlineData("http_stream", "Content-Length: 5\r\n\r\nhello")]
    [InlineData("sse", "Content-Length: 5\r\n\r\nhello")]
    [InlineData("http", "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("sse", "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")]
    public async Task UpstreamAnswers205WithABody_ClientGets205WithoutIt(string protocol, string framedBody)
    {
        // Arrange
        await using var backend = await ScriptedBackend.StartAsync($"HTTP/1.1 205 Reset Content\r\nX-Ok: fine\r\n{framedBody}", thenClose: true);
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", backend.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend", Protocol = protocol });

        // Act
        var response = await RawHttp.GetAsync(gateway.Url, "/r/x", "X-Request-ID: reset-content-1");

        // Assert
        Assert.Equal((205, ""), (response.Status, response.Body));
        Assert.Equal("fine", response.Headers["X-Ok"]);
        Assert.Equal("reset-content-1", response.Headers["X-Request-ID"]);
        Assert.False(response.Headers.TryGetValue("Content-Length", out var length) && length != "0", $"Content-Length: {length}");
        var target = Assert.Single(gateway.Service<TargetRegistry>().Statuses());
        Assert.Equal((1L, 0L), (target.RequestsTotal, target.FailuresTotal));
    }
}
