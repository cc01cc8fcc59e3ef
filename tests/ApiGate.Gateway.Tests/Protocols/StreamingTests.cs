using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Protocols;

[Collection(ProcessWideCollection.Name)] // the large-body test measures the whole process's heap
public sealed class StreamingTests : GatewayTestBase
{
    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "http", Path = "/http/*", Upstream = "backend" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "stream", Path = "/stream/*", Upstream = "backend", Protocol = "http_stream" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "events", Path = "/events/*", Upstream = "backend", Protocol = "sse" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "socket", Path = "/socket/*", Upstream = "backend", Protocol = "websocket" });
    }

    [Fact]
    public async Task Sse_FirstEvent_ReachesClientBeforeSecondIsSent()
    {
        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/events/sse", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        await using var body = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(body);

        // The upstream holds its second event until the gate opens; the first must arrive without it.
        var firstEvent = await ReadEventAsync(reader).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.False(Upstream.SecondEventGate.Task.IsCompleted);
        Assert.Contains("data: one", firstEvent);

        Upstream.SecondEventGate.SetResult();
        var secondEvent = await ReadEventAsync(reader).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("data: two", secondEvent);
    }

    [Fact]
    public async Task WebSocket_Messages_TravelBothWaysThroughGateway()
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(Gateway.Url.Replace("http://", "ws://") + "/socket/ws"), CancellationToken.None);
        var buffer = new byte[1024];

        foreach (var message in new[] { "hello", "second message", new string('z', 500) })
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes(message), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
            var result = await socket.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            Assert.Equal(message, Encoding.UTF8.GetString(buffer, 0, result.Count));
        }

        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        Assert.Equal(WebSocketState.Closed, socket.State);
    }

    [Theory]
    [InlineData("/events/ws")]
    [InlineData("/stream/ws")]
    public async Task WebSocket_OnARouteOfAnotherStreamingProtocol_StillTravelsBothWays(string path)
    {
        // Arrange: a handshake on an sse (or http_stream) route is tunnelled too (docs/forwarding.md, Protocols); on an
        // sse route the upstream's side of the tunnel used to be read-only, so the first message from the client broke it.
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(Gateway.Url.Replace("http://", "ws://") + path), CancellationToken.None);
        var buffer = new byte[64];

        // Act
        await socket.SendAsync(Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        var result = await socket.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);

        // Assert
        Assert.Equal("hello", Encoding.UTF8.GetString(buffer, 0, result.Count));
        Assert.Equal(WebSocketState.Closed, socket.State);
    }

    [Fact]
    public async Task Http_SlowResponseHeaders_Returns504UpstreamTimeout()
    {
        await Gateway.AddUpstreamAsync("slow", Upstream.Url, new UpstreamInput { Timeout = "1s" });
        await Gateway.AddRouteAsync(new RouteInput { Name = "slow", Path = "/slow/*", Upstream = "slow" });

        var response = await Gateway.Client.GetAsync(Gateway.Url + "/slow/slow-headers?ms=5000");

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Contains("upstream_timeout", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Timeout_TotalForHttp_IdleForStreams()
    {
        // Each chunk arrives well within the 2 s timeout (100 ms apart: a 20x margin, so a busy machine does not trip the
        // idle timeout), but the whole response takes ~4 s.
        await Gateway.AddUpstreamAsync("tight", Upstream.Url, new UpstreamInput { Timeout = "2s" });
        await Gateway.AddRouteAsync(new RouteInput { Name = "tight-http", Path = "/tight-http/*", Upstream = "tight" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "tight-stream", Path = "/tight-stream/*", Upstream = "tight", Protocol = "http_stream" });
        const string query = "trickle?chunks=40&interval=100";

        var streamed = await Gateway.Client.GetStringAsync(Gateway.Url + "/tight-stream/" + query);
        var (httpStatus, httpLines, httpFailure) = await ReadLinesAsync("/tight-http/" + query);

        Assert.Equal(40, streamed.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        // Headers were sent (200), so the total timeout can only abort the body mid-stream: the connection breaks
        // before the last chunk.
        Assert.Equal(HttpStatusCode.OK, httpStatus);
        Assert.IsAssignableFrom<IOException>(httpFailure);
        Assert.InRange(httpLines, 1, 39);
    }

    [Fact]
    public async Task Timeout_StreamIdleTooLong_IsAborted()
    {
        await Gateway.AddUpstreamAsync("idle", Upstream.Url, new UpstreamInput { Timeout = "1s" });
        await Gateway.AddRouteAsync(new RouteInput { Name = "idle-stream", Path = "/idle-stream/*", Upstream = "idle", Protocol = "http_stream" });

        var (status, lines, failure) = await ReadLinesAsync("/idle-stream/trickle?chunks=3&interval=4000");

        // The first chunk arrives, then nothing for 4 s > the 1 s idle timeout: the stream is cut mid-body.
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.IsAssignableFrom<IOException>(failure);
        Assert.InRange(lines, 1, 2);
    }

    /// <summary>Reads a streamed response line by line until it ends or breaks: its status, the lines read, and the failure (null = ended cleanly).</summary>
    private async Task<(HttpStatusCode Status, int Lines, Exception? Failure)> ReadLinesAsync(string path)
    {
        using var response = await Gateway.Client.GetAsync(Gateway.Url + path, HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(body);
        var lines = 0;
        var failure = await Record.ExceptionAsync(async () =>
        {
            while (await reader.ReadLineAsync() is not null)
            {
                lines++;
            }
        });
        return (response.StatusCode, lines, failure);
    }

    [Fact]
    public async Task LargeBodies_200MegabytesEachWay_StreamWithoutGatewayBuffering()
    {
        const long size = 200L * 1024 * 1024;
        var baseline = Settle();
        long peak = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(false));
                await Task.Delay(20);
            }
        });

        var upload = await Gateway.Client.PostAsync(Gateway.Url + "/stream/upload", new StreamContent(new GeneratedStream(size)) { Headers = { ContentLength = size } });
        using var download = await Gateway.Client.GetAsync(Gateway.Url + "/stream/download?bytes=" + size, HttpCompletionOption.ResponseHeadersRead);
        long received = 0;
        await using (var body = await download.Content.ReadAsStreamAsync())
        {
            var buffer = new byte[64 * 1024];
            int read;
            while ((read = await body.ReadAsync(buffer)) > 0)
            {
                received += read;
            }
        }

        await sampling.CancelAsync();
        await sampler;

        Assert.Equal(size.ToString(System.Globalization.CultureInfo.InvariantCulture), await upload.Content.ReadAsStringAsync());
        Assert.Equal(size, received);
        // Gateway, upstream and client share this process: together they must stay far below one body's size.
        Assert.True(peak - baseline < 64L * 1024 * 1024, $"managed heap grew by {(peak - baseline) / (1024 * 1024)} MiB while moving 2 x 200 MiB");
    }

    private static long Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(true);
    }

    private static async Task<string> ReadEventAsync(StreamReader reader)
    {
        var builder = new StringBuilder();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length == 0 && builder.Length > 0)
            {
                return builder.ToString();
            }

            builder.AppendLine(line);
        }

        return builder.ToString();
    }

    /// <summary>A read-only stream of <c>length</c> generated bytes: a large body without holding it in memory.</summary>
    private sealed class GeneratedStream(long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - _position);
            buffer.AsSpan(offset, n).Fill((byte)'a');
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
