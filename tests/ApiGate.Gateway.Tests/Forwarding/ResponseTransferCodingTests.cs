using System.IO.Compression;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Forwarding;

/// <summary>
/// An upstream whose response is framed with a transfer coding other than chunked alone (<c>gzip, chunked</c>) gets the
/// client a 502, not a 200 whose body is the coding's raw bytes labelled as none (the upstream client removes only the
/// chunking, and <c>Transfer-Encoding</c> is not passed on); a response chunked once still passes.
/// </summary>
public sealed class ResponseTransferCodingTests
{
    [Theory]
    [InlineData("http", "gzip, chunked")]
    [InlineData("http_stream", "gzip, chunked")]
    [InlineData("sse", "gzip, chunked")]
    [InlineData("http", "chunked, chunked")]
    [InlineData("sse", "chunked, chunked")]
    public async Task UpstreamFramesItsBodyWithAnotherCoding_ClientGets502AndTheTargetIsCounted(string protocol, string codings)
    {
        // Arrange: the body "hello" gzip-compressed as a transfer coding (or chunked twice), then chunked
        await using var backend = await ScriptedBackend.StartAsync(_ => Response(codings), thenClose: true);
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", backend.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend", Protocol = protocol });

        // Act
        var response = await RawHttp.GetAsync(gateway.Url, "/r/x");

        // Assert
        Assert.Equal((502, "upstream_error"), (response.Status, response.ErrorCode));
        var target = Assert.Single(gateway.Service<TargetRegistry>().Statuses());
        Assert.Equal(1, target.FailuresTotal);
    }

    [Theory]
    [InlineData("http")]
    [InlineData("sse")]
    public async Task UpstreamChunksItsBodyOnce_BodyPassesWhole(string protocol)
    {
        // Arrange
        await using var backend = await ScriptedBackend.StartAsync(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: , chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", thenClose: true);
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", backend.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend", Protocol = protocol });

        // Act
        var response = await RawHttp.GetAsync(gateway.Url, "/r/x");

        // Assert
        Assert.Equal((200, "hello"), (response.Status, response.Body));
    }

    private static byte[] Response(string codings)
    {
        byte[] coded;
        if (codings.StartsWith("gzip", StringComparison.Ordinal))
        {
            using var compressed = new MemoryStream();
            using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest))
            {
                gzip.Write("hello"u8);
            }

            coded = compressed.ToArray();
        }
        else
        {
            coded = "5\r\nhello\r\n0\r\n\r\n"u8.ToArray();
        }

        var head = Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: {codings}\r\n\r\n{coded.Length:x}\r\n");
        return [.. head, .. coded, .. "\r\n0\r\n\r\n"u8];
    }
}
