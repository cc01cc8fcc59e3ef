using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Forwarding;

/// <summary>
/// A body the upstream labels compressed (<c>Content-Encoding: gzip</c>, <c>br</c>, <c>deflate</c>) but that does not
/// decode, on a route whose response transform reads the body (the gateway decodes such a body, docs/forwarding.md): the
/// upstream's broken answer, <c>502 upstream_error</c> with the target counted as failing — not the gateway's own
/// <c>500 transform_error</c> with the target left unblamed.
/// </summary>
public sealed class CorruptCompressedBodyTests
{
    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    [InlineData("deflate")]
    public async Task UpstreamBodyDoesNotDecode_OnRouteWhoseTransformReadsIt_502UpstreamError_TargetCounted(string coding)
    {
        // Arrange: bytes that are no valid stream of the coding
        byte[] body = [0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x02, 0x03];
        await using var backend = await ScriptedBackend.StartAsync(_ => [.. Encoding.ASCII.GetBytes(
            $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: {coding}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"), .. body],
            thenClose: true);
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", backend.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "masked", Path = "/masked/*", Upstream = "backend", ResponseTransform = """{"body":{"mask":["email"]}}""" });

        // Act
        var response = await RawHttp.GetAsync(gateway.Url, "/masked/user");

        // Assert
        Assert.Equal((502, "upstream_error"), (response.Status, response.ErrorCode));
        Assert.Equal(1, backend.Connections);
        var target = Assert.Single(gateway.Service<TargetRegistry>().Statuses());
        Assert.Equal((1L, 1L), (target.RequestsTotal, target.FailuresTotal));
    }
}
