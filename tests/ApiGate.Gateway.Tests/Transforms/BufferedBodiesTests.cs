using System.Net.Sockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Transforms;

namespace ApiGate.Gateway.Tests.Transforms;

/// <summary>
/// Request bodies held for body transforms are bounded all together (<c>APIGATE_TRANSFORM_MAX_BUFFERED_BYTES</c>), not
/// only one by one: a client that sends most of many bodies and holds them open cannot make the gateway hold more.
/// </summary>
public sealed class BufferedBodiesTests : GatewayTestBase
{
    private const int BodySize = 60_000;

    private protected override void Configure(GatewayOptions options)
    {
        options.TransformMaxBodyBytes = 64 * 1024;
        options.TransformMaxBufferedBytes = 128 * 1024; // two 60,000-byte bodies fit, a third does not
    }

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "edit", Path = "/edit/*", Upstream = "backend", AuthRequired = false,
            RequestTransform = """{"body":{"json":{"remove":["secret"]}}}""",
        });
    }

    [Fact]
    public async Task BodiesHeldOpen_OneMoreThanTheBudgetHolds_503GatewayBusyUntilTheHeldOnesEnd()
    {
        // Arrange: two clients send half of a 60,000-byte body each and stop there
        var budget = Gateway.Service<BufferedBodies>();
        var body = Body();
        using var first = await StartHalfAsync(body);
        using var second = await StartHalfAsync(body);
        await Poll.UntilAsync(() => budget.Held == 2 * (BodySize + 1));

        // Act
        var refused = await RawHttp.SendAsync(Gateway.Url, Request(body));
        var firstDone = await FinishAsync(first, body);
        var secondDone = await FinishAsync(second, body);
        await Poll.UntilAsync(() => budget.Held == 0);
        var afterwards = await RawHttp.SendAsync(Gateway.Url, Request(body));

        // Assert
        Assert.Equal(503, refused.Status);
        Assert.Equal("gateway_busy", refused.ErrorCode);
        Assert.Equal(200, firstDone.Status);
        Assert.Equal(200, secondDone.Status);
        Assert.Equal(200, afterwards.Status);
        Assert.Equal(3, Upstream.Served); // the refused body was never forwarded
        Assert.Equal(0, budget.Held);
    }

    [Fact]
    public async Task ChunkedBodies_TakeWhatTheirBufferHolds_ASmallOneFitsWhereALargeOneDoesNot()
    {
        // Arrange: two clients hold half of a 40,000-byte body each (80,002 bytes taken, 51,070 left)
        var budget = Gateway.Service<BufferedBodies>();
        var body = Body(40_000);
        using var first = await StartHalfAsync(body);
        using var second = await StartHalfAsync(body);
        await Poll.UntilAsync(() => budget.Held == 2 * 40_001);

        // Act: a chunked body has no size to take up front; its buffer starts at 16 KiB and doubles as it fills
        var small = await RawHttp.SendAsync(Gateway.Url, Chunked("{\"a\":1}"u8.ToArray()));
        var large = await RawHttp.SendAsync(Gateway.Url, Chunked(Body(BodySize)));
        await FinishAsync(first, body);
        await FinishAsync(second, body);
        await Poll.UntilAsync(() => budget.Held == 0);

        // Assert
        Assert.Equal(200, small.Status);
        Assert.Equal(503, large.Status);
        Assert.Equal("gateway_busy", large.ErrorCode);
        Assert.Equal(3, Upstream.Served);
    }

    private static byte[] Chunked(byte[] body) =>
        [.. Encoding.ASCII.GetBytes($"POST /edit/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{body.Length:x}\r\n"),
            .. body, .. "\r\n0\r\n\r\n"u8.ToArray()];

    private static byte[] Body(int size = BodySize) => Encoding.ASCII.GetBytes("{\"a\":\"" + new string('x', size - 8) + "\"}");

    private static byte[] Request(byte[] body) =>
        [.. Encoding.ASCII.GetBytes($"POST /edit/x HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n"), .. body];

    private async Task<TcpClient> StartHalfAsync(byte[] body)
    {
        var uri = new Uri(Gateway.Url);
        var client = new TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        var request = Request(body);
        await client.GetStream().WriteAsync(request.AsMemory(0, request.Length - (body.Length / 2)));
        return client;
    }

    private static async Task<RawResponse> FinishAsync(TcpClient client, byte[] body)
    {
        var stream = client.GetStream();
        await stream.WriteAsync(body.AsMemory(body.Length - (body.Length / 2)));
        return await RawHttp.ReadUntilClosedAsync(stream);
    }
}
