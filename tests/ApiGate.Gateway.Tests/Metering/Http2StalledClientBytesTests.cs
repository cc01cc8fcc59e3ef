using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Metering;

/// <summary>
/// HTTP/2 clients that stop granting flow-control window on a large response and then reset the stream or close the
/// connection are billed for the bytes their window let through, not for what the gateway held for them when they went.
/// </summary>
public sealed class Http2StalledClientBytesTests : GatewayTestBase
{
    private const int StreamId = 1;

    private protected override void Configure(GatewayOptions options)
    {
        options.UsageRawEvents = "all";
        options.H2cPort = 0;
    }

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "bytes", Path = "/bytes/*", Upstream = "backend", MeteringMode = "bytes" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "stream", Path = "/stream/*", Upstream = "backend", Protocol = "http_stream", MeteringMode = "bytes" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "socket", Path = "/socket/*", Upstream = "backend", Protocol = "websocket", MeteringMode = "bytes" });
    }

    // What may be counted short of what the client received: the stream's buffer the server held (Kestrel's response
    // buffer, 64 KiB), which is not counted once the client has gone, and the forwarder's write that was waiting for
    // room in it (its copy buffer, 64 KiB), which is not counted either, though some of both may have reached the client.
    private const long ServerBuffers = 2 * 64 * 1024;

    [Theory]
    [InlineData("/bytes", false, false, 16 * 1024)]
    [InlineData("/bytes", true, false, 16 * 1024)]
    [InlineData("/bytes", false, true, 16 * 1024)]
    [InlineData("/bytes", true, true, 16 * 1024)]
    [InlineData("/bytes", false, false, 1024 * 1024)]
    [InlineData("/bytes", true, false, 1024 * 1024)]
    [InlineData("/stream", false, true, 1024 * 1024)]
    [InlineData("/stream", true, false, 16 * 1024)]
    [InlineData("/stream", true, true, 16 * 1024)]
    [InlineData("/stream", true, false, 1024 * 1024)]
    [InlineData("/stream", true, true, 1024 * 1024)]
    [InlineData("/bytes", true, true, 1024 * 1024)]
    [InlineData("/stream", true, false, 16 * 1024, true)]
    [InlineData("/stream", true, true, 16 * 1024, true)]
    [InlineData("/stream", true, false, 1024 * 1024, true)]
    [InlineData("/stream", true, true, 1024 * 1024, true)]
    public async Task ClientGrantsNoMoreWindowThenLeaves_ResponseBytesAreAtMostWhatItsWindowLetThrough(string route, bool chunked, bool closeConnection, int window,
        bool answerEndsAfterLeaving = false)
    {
        // With answerEndsAfterLeaving the answer is 1 MiB past the window: once the client has gone its rest is dropped at
        // once and the exchange ends, before the server's own signal that the client left.
        var bytes = answerEndsAfterLeaving ? window + (1024 * 1024) : 2_000_000_000L;
        // Arrange: a client whose stream may take `window` bytes (and its connection as many) and which never grants
        // more asks for 2 GB (with chunked, an answer of no announced length) and takes all its window lets through;
        // then the gateway fills what it holds for the client (it stops reading the upstream).
        // Act: the client resets the stream, or closes its connection.
        var (received, e) = await StallThenLeaveAsync(window, closeConnection, async client =>
        {
            Assert.True(await client.WriteAsync(RawHttp2Connection.GetHeaders(StreamId, $"{route}/download?bytes={bytes}{(chunked ? "&chunked" : "")}")));
        });

        // Assert: never more than the window let through (all the client received), and short of it by at most what
        // the server held for the client and the write waiting for room there.
        Assert.Equal(200, e.Status);
        Assert.InRange(e.ResponseBytes, Math.Max(0, received - ServerBuffers), received);
    }

    [Theory]
    [InlineData(false, 16 * 1024)]
    [InlineData(true, 16 * 1024)]
    [InlineData(false, 1024 * 1024)]
    [InlineData(true, 1024 * 1024)]
    [InlineData(false, 16 * 1024, true)]
    [InlineData(true, 16 * 1024, true)]
    [InlineData(false, 1024 * 1024, true)]
    [InlineData(true, 1024 * 1024, true)]
    public async Task WebSocketClientGrantsNoMoreWindowThenLeaves_ResponseBytesAreAtMostWhatItsWindowLetThrough(bool closeConnection, int window,
        bool messageEndsAfterLeaving = false)
    {
        // With messageEndsAfterLeaving the message is 1 MiB past the window and the upstream then ends the tunnel: once the
        // client has gone the rest is dropped at once and the tunnel ends, before the server's own signal that the client left.
        var bytes = messageEndsAfterLeaving ? window + (1024 * 1024) : 2_000_000_000L;
        // Arrange: a WebSocket over HTTP/2 (extended CONNECT) whose upstream sends one 2 GB message; the client's stream
        // may take `window` bytes (and its connection as many), it never grants more and takes all its window lets through;
        // then the gateway fills what it holds for the client.
        var (received, e) = await StallThenLeaveAsync(window, closeConnection, async client =>
        {
            Assert.True(await client.WriteAsync(RawHttp2Connection.WebSocketConnectHeaders(StreamId, $"/socket/ws-flood?bytes={bytes}")));
            var headers = await client.ReadFrameAsync(RawHttp2Connection.HeadersFrame);
            Assert.NotNull(headers);
            Assert.True(RawHttp2Connection.IsStatus200(headers), "the extended CONNECT was not answered 200");
        });

        // Assert: as for a response, never more than the window let through, short of it by at most the server's buffers.
        Assert.Equal("CONNECT", e.Method);
        Assert.Equal(200, e.Status);
        Assert.InRange(e.ResponseBytes, Math.Max(0, received - ServerBuffers), received);
    }

    /// <summary>
    /// Opens an HTTP/2 connection whose stream may take <paramref name="window"/> bytes (and the connection as many),
    /// sends the request (<paramref name="open"/>), takes all the window lets through and never grants more, waits until
    /// the gateway holds all it will for the client, then resets the stream or closes the connection. Returns what the
    /// client received and the one usage event recorded, read from the store once the gateway stopped.
    /// </summary>
    private async Task<(long Received, UsageEvent Event)> StallThenLeaveAsync(int window, bool closeConnection, Func<RawHttp2Connection, Task> open)
    {
        var client = await RawHttp2Connection.ConnectAsync(Gateway.Addresses.ElementAt(1));
        var closed = false;
        long received;
        try
        {
            Assert.True(await client.WriteSettingsAsync((RawHttp2Connection.InitialWindowSizeSetting, (uint)window)));
            if (window > RawHttp2Connection.DefaultWindow)
            {
                Assert.True(await client.WriteAsync(RawHttp2Connection.WindowUpdate(0, window - RawHttp2Connection.DefaultWindow)));
            }

            await open(client);
            received = await client.ReadDataAsync(StreamId, window);
            Assert.Equal(window, received);
            await WaitUntilUpstreamHeldUpAsync();

            if (closeConnection)
            {
                closed = true;
                await client.DisposeAsync();
            }
            else
            {
                Assert.True(await client.WriteAsync(RawHttp2Connection.RstStream(StreamId, RawHttp2Connection.CancelError)));
            }

            var recorder = Gateway.Service<ApiGate.Gateway.Usage.UsageRecorder>();
            await Poll.UntilAsync(() => recorder.Written + recorder.QueueDepth == 1, () => "recorded: " + (recorder.Written + recorder.QueueDepth));
        }
        finally
        {
            if (!closed)
            {
                await client.DisposeAsync();
            }
        }

        await Gateway.StopAsync();
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(Gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        return (received, Assert.Single(await store.GetRecentUsageAsync(UsageEvent.Anonymous, 10, CancellationToken.None)));
    }

    /// <summary>
    /// Waits until the gateway has stopped reading the upstream: the kernel's queues on the upstream's connections are
    /// full (unchanged over ten looks in a row), so the gateway holds all it will for the stalled client.
    /// </summary>
    private async Task WaitUntilUpstreamHeldUpAsync()
    {
        var port = new Uri(Upstream.Url).Port;
        long queued = 0;
        var unchanged = 0;
        await Poll.UntilAsync(() =>
        {
            var now = StalledClients.Queued(port);
            unchanged = now > 0 && now == queued ? unchanged + 1 : 0;
            queued = now;
            return unchanged >= 10;
        }, () => "the upstream's queues did not fill: " + queued);
    }
}
