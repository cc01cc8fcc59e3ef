using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Forwarding;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>
/// A graceful stop with an SSE stream and a WebSocket open (on a websocket route, or tunnelled by an http or http_stream
/// route): all are ended when the stop begins (instead of holding it for the whole shutdown timeout), recorded as they
/// went, and not counted as upstream failures; a stream that would start after the stop began is refused with
/// <c>503 stopping</c>; ordinary requests are still served until the server closes. The stop is begun with <see cref="IHostApplicationLifetime.StopApplication"/>, which (for a host started
/// without <c>Run</c>) fires the stopping signal without closing the server, so what happens in between is observable.
/// </summary>
public sealed class StopWithOpenStreamsTests : IAsyncLifetime
{
    private readonly RecordingLogger<ForwardStep> _forwardLog = new();
    private readonly RecordingLogger<OpenStreams> _streamsLog = new();
    private TestUpstream _upstream = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _upstream = await TestUpstream.StartAsync();
        _gateway = await TestGateway.StartAsync(
            options =>
            {
                options.ShutdownTimeout = TimeSpan.FromMinutes(2);
                options.UpstreamTimeout = TimeSpan.FromMinutes(10); // no idle timeout ends a stream during the test
                options.UsageRawEvents = "all";
            },
            services: services =>
            {
                services.AddSingleton<ILogger<ForwardStep>>(_forwardLog);
                services.AddSingleton<ILogger<OpenStreams>>(_streamsLog);
            });
        await _gateway.AddUpstreamAsync("backend", _upstream.Url);
        await _gateway.AddRouteAsync(new RouteInput { Name = "events", Path = "/events/*", Upstream = "backend", Protocol = "sse" }, reload: false);
        await _gateway.AddRouteAsync(new RouteInput
        {
            Name = "socket", Path = "/socket/*", Upstream = "backend", Protocol = "websocket", MeteringMode = "custom", MeteringExpr = "wsMessages",
        }, reload: false);
        await _gateway.AddRouteAsync(new RouteInput { Name = "stream", Path = "/stream/*", Upstream = "backend", Protocol = "http_stream" }, reload: false);
        await _gateway.AddRouteAsync(new RouteInput { Name = "plain", Path = "/plain/*", Upstream = "backend" });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public void ShutdownTimeout_Setting_IsTheHostsShutdownTimeout()
    {
        // Act
        var host = _gateway.Service<IOptions<HostOptions>>().Value;

        // Assert
        Assert.Equal(TimeSpan.FromMinutes(2), host.ShutdownTimeout);
    }

    [Fact]
    public async Task StopBegins_OpenSseStreamAndWebSocket_EndedAtOnceRecordedAndNotUpstreamFailures()
    {
        // Arrange: an event stream that has sent its first event and then nothing (the upstream never ends it), and a
        // WebSocket that has exchanged one message (the echo server never closes it). Nothing but the stop can end them;
        // the reads below are bounded only so that a regression fails instead of hanging.
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var client = TestGateway.CreateClient();
        using var sse = await client.GetAsync(_gateway.Url + "/events/endless-sse", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, sse.StatusCode);
        var body = await sse.Content.ReadAsStreamAsync();
        var received = await ReadUntilAsync(body, "data: one\n\n");
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri(_gateway.Url.Replace("http://", "ws://", StringComparison.Ordinal) + "/socket/ws"), CancellationToken.None);
        await socket.SendAsync(Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        var buffer = new byte[64];
        var echo = await socket.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal("hello", Encoding.UTF8.GetString(buffer, 0, echo.Count));

        // Act: the stop begins.
        _gateway.Service<IHostApplicationLifetime>().StopApplication();

        // Assert: both streams end.
        var rest = await ReadToEndAsync(body, bound.Token);
        Assert.Equal("event: first\ndata: one\n\n", received + rest.Text);
        Assert.Null(rest.Error); // ended as the upstream would have: the last chunk, not a reset
        var closing = await socket.ReceiveAsync(buffer, bound.Token);
        Assert.Equal(WebSocketMessageType.Close, closing.MessageType);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, socket.CloseStatus); // 1001, going away

        // A new stream is refused, an ordinary request is still served until the server closes.
        using var late = await client.GetAsync(_gateway.Url + "/events/endless-sse");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, late.StatusCode);
        using var error = JsonDocument.Parse(await late.Content.ReadAsStringAsync());
        Assert.Equal("stopping", error.RootElement.GetProperty("errors")[0].GetProperty("code").GetString());
        using var plain = await client.GetAsync(_gateway.Url + "/plain/json");
        Assert.Equal(HttpStatusCode.OK, plain.StatusCode);
        await _gateway.StopAsync();

        // Logged once, as information; no forwarding failure.
        Assert.Equal(1, _streamsLog.Count(3005));
        Assert.Contains("ending 2 open SSE streams and WebSockets", _streamsLog.Messages.Single(), StringComparison.Ordinal);
        Assert.Equal(0, _forwardLog.Count(3001));

        // Recorded as they went: the stream's 200 and the socket's two messages (sent + echoed).
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(_gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        var usage = await store.GetRecentUsageAsync(UsageEvent.Anonymous, 10, CancellationToken.None);
        Assert.Equal(["/events/endless-sse 200 1", "/plain/json 200 1", "/socket/ws 101 2"],
            usage.Select(e => $"{e.Path} {e.Status} {e.Units}").Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("plain")] // an http route
    [InlineData("stream")] // an http_stream route
    public async Task StopBegins_WebSocketOnAnHttpOrHttpStreamRoute_EndedAtOnceWithGoingAwayAndRecorded(string route)
    {
        // Arrange: a WebSocket tunnelled by a route that is not a websocket route, one message exchanged (the echo server
        // never closes it). Nothing but the stop can end it; the read below is bounded only so that a regression fails
        // instead of hanging.
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var url = new Uri(_gateway.Url.Replace("http://", "ws://", StringComparison.Ordinal) + $"/{route}/ws");
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(url, CancellationToken.None);
        await socket.SendAsync(Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
        var buffer = new byte[64];
        var echo = await socket.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal("hello", Encoding.UTF8.GetString(buffer, 0, echo.Count));

        // Act: the stop begins.
        _gateway.Service<IHostApplicationLifetime>().StopApplication();

        // Assert: ended as a websocket route's socket is, with a close frame 1001 (going away).
        var closing = await socket.ReceiveAsync(buffer, bound.Token);
        Assert.Equal(WebSocketMessageType.Close, closing.MessageType);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, socket.CloseStatus);

        // A new handshake on the same route is refused, as a new stream is.
        using var late = new ClientWebSocket();
        late.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => late.ConnectAsync(url, bound.Token));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, late.HttpStatusCode);
        await _gateway.StopAsync();

        // Logged as ending one stream; no forwarding failure; recorded as the 101 it was.
        Assert.Contains("ending 1 open SSE streams and WebSockets", _streamsLog.Messages.Single(), StringComparison.Ordinal);
        Assert.Equal(0, _forwardLog.Count(3001));
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(_gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        var usage = await store.GetRecentUsageAsync(UsageEvent.Anonymous, 10, CancellationToken.None);
        Assert.Contains(usage, e => e.Path == $"/{route}/ws" && e.Status == 101);
    }

    [Fact]
    public async Task StopBegins_AfterTheUpstreamsCloseFrame_ClientGetsNoSecondCloseFrame()
    {
        // Arrange: a WebSocket whose upstream has sent its close frame (1000) and holds the connection, waiting for the
        // client's close; the client has read that frame and not answered. Read on a raw connection, so every byte the
        // gateway sends after it is seen.
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var gateway = new Uri(_gateway.Url);
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(gateway.Host, gateway.Port, bound.Token);
        var connection = tcp.GetStream();
        await connection.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET /socket/ws-close-held HTTP/1.1\r\nHost: {gateway.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"), bound.Token);
        var received = new List<byte>();
        var buffer = new byte[256];
        var head = -1;
        while (head < 0 || received.Count < head + 4) // the response's head, then the 4 bytes of the upstream's close frame
        {
            var read = await connection.ReadAsync(buffer, bound.Token);
            Assert.NotEqual(0, read);
            received.AddRange(buffer.AsSpan(0, read));
            var headEnd = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(received).IndexOf("\r\n\r\n"u8);
            head = headEnd < 0 ? -1 : headEnd + 4;
        }

        Assert.StartsWith("HTTP/1.1 101 ", Encoding.ASCII.GetString(received.ToArray()), StringComparison.Ordinal);
        Assert.Equal(new byte[] { 0x88, 0x02, 0x03, 0xE8 }, received.GetRange(head, received.Count - head));

        // Act: the stop begins.
        _gateway.Service<IHostApplicationLifetime>().StopApplication();

        // Assert: the connection ends with nothing more (no close frame 1001 after the upstream's).
        var rest = new List<byte>();
        int more;
        while ((more = await connection.ReadAsync(buffer, bound.Token)) > 0)
        {
            rest.AddRange(buffer.AsSpan(0, more));
        }

        Assert.Empty(rest);
    }

    [Fact]
    public async Task StopBegins_OpenSseStreamTheUpstreamCompressed_EndedAtOnceAfterItsDecodedEvent()
    {
        // Arrange: an event stream the upstream compresses unasked (decoded by the gateway), its second event held back.
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        using var client = TestGateway.CreateClient();
        using var sse = await client.GetAsync(_gateway.Url + "/events/compressed-sse?coding=gzip", HttpCompletionOption.ResponseHeadersRead);
        var body = await sse.Content.ReadAsStreamAsync();
        var received = await ReadUntilAsync(body, "data: one\n\n", bound.Token);

        // Act
        _gateway.Service<IHostApplicationLifetime>().StopApplication();

        // Assert: the stream ends as the upstream would have ended it, after the event already decoded.
        var rest = await ReadToEndAsync(body, bound.Token);
        Assert.Equal("event: first\ndata: one\n\n", received + rest.Text);
        Assert.Null(rest.Error);
        await _gateway.StopAsync();
        Assert.Equal(0, _forwardLog.Count(3001));
    }

    private static async Task<string> ReadUntilAsync(Stream body, string end, CancellationToken cancellationToken = default)
    {
        var text = new StringBuilder();
        var buffer = new byte[256];
        while (!text.ToString().EndsWith(end, StringComparison.Ordinal))
        {
            var read = await body.ReadAsync(buffer, cancellationToken);
            Assert.NotEqual(0, read);
            text.Append(Encoding.UTF8.GetString(buffer, 0, read));
        }

        return text.ToString();
    }

    private static async Task<(string Text, Exception? Error)> ReadToEndAsync(Stream body, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        var buffer = new byte[256];
        try
        {
            int read;
            while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                text.Append(Encoding.UTF8.GetString(buffer, 0, read));
            }

            return (text.ToString(), null);
        }
        catch (IOException ex)
        {
            return (text.ToString(), ex);
        }
    }
}
