using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>What the upstream saw of one request.</summary>
/// <param name="RawTarget">The request target exactly as it arrived on the wire (before Kestrel decodes or normalises it).</param>
internal sealed record ReceivedRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string[]> Headers, string RawTarget = "");

/// <summary>
/// A real HTTP server on a loopback port, standing in for a backend. Behaviour is chosen by the path's last segment:
/// echo (default), slow-headers, held, trickle, sse, compressed-sse, events-as, ws, ws-close-held, ws-flood, download, upload, cookies, set-gateway-cookie, status, redirect, gzip-json, healthz, reset.
/// It can be started on a chosen port, so a test can stop it and bring it back at the same address.
/// </summary>
internal sealed class TestUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestUpstream(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    public ConcurrentQueue<ReceivedRequest> Received { get; } = new();

    /// <summary>Released by an SSE test to let the upstream send its second event.</summary>
    public TaskCompletionSource SecondEventGate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Set when the upstream has written the first SSE event.</summary>
    public TaskCompletionSource FirstEventSent { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long UploadedBytes;

    /// <summary>What <c>/healthz</c> answers: 200 when true, 503 when false.</summary>
    public volatile bool Healthy = true;

    /// <summary>When set, <c>/healthz</c> answers only once this task completes (a probe held as long as a test needs).</summary>
    public volatile Task? HealthzHeld;

    /// <summary>When set, <c>/held</c> answers only once this task completes (a traffic request held as long as a test needs).</summary>
    public volatile Task? RequestHeld;

    /// <summary>Milliseconds every echo request waits before answering (a slow backend).</summary>
    public volatile int DelayMs;

    /// <summary>The loopback port the server listens on.</summary>
    public int Port => new Uri(Url).Port;

    /// <summary>Requests received other than health probes.</summary>
    public int Served => Received.Count(r => !r.Path.EndsWith("/healthz", StringComparison.Ordinal));

    public static async Task<TestUpstream> StartAsync(int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, port);
            k.Limits.MaxRequestBodySize = null;
        });
        var app = builder.Build();
        TestUpstream? self = null;
        app.UseWebSockets();
        app.Run(context => self!.HandleAsync(context));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new TestUpstream(app, address);
        return self;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(TimeSpan.FromSeconds(2) is var t ? new CancellationTokenSource(t).Token : default);
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        Received.Enqueue(new ReceivedRequest(
            request.Method, path, request.QueryString.Value ?? "",
            request.Headers.ToDictionary(h => h.Key, h => h.Value.Select(v => v ?? "").ToArray(), StringComparer.OrdinalIgnoreCase),
            context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? ""));

        var last = path[(path.LastIndexOf('/') + 1)..];
        switch (last)
        {
            case "slow-headers":
                await Task.Delay(int.Parse(request.Query["ms"]!), context.RequestAborted);
                await context.Response.WriteAsync("late");
                return;
            case "held":
                await (RequestHeld ?? Task.CompletedTask).WaitAsync(context.RequestAborted);
                await context.Response.WriteAsync("released");
                return;
            case "trickle":
                await TrickleAsync(context);
                return;
            case "sse":
                await SseAsync(context);
                return;
            case "compressed-sse":
                await CompressedSseAsync(context, request.Query["coding"]!);
                return;
            case "endless-sse":
                // One event, then nothing until the gateway closes the connection.
                context.Response.ContentType = "text/event-stream";
                await context.Response.WriteAsync("event: first\ndata: one\n\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { }, TaskScheduler.Default);
                return;
            case "aborting-sse":
                // Two events, then (once the test has read them: a reset can discard data not yet read) the connection
                // dropped mid-stream.
                context.Response.ContentType = "text/event-stream";
                await context.Response.WriteAsync("data: one\n\ndata: two\n\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                await SecondEventGate.Task.WaitAsync(TimeSpan.FromSeconds(30), context.RequestAborted);
                context.Abort();
                return;
            case "ws":
                await WebSocketEchoAsync(context);
                return;
            case "ws-close-held":
                await WebSocketCloseHeldAsync(context);
                return;
            case "ws-flood":
                await WebSocketFloodAsync(context, long.Parse(request.Query["bytes"]!), request.Query.ContainsKey("vanish"));
                return;
            case "download":
                await DownloadAsync(context, long.Parse(request.Query["bytes"]!), chunked: request.Query.ContainsKey("chunked"));
                return;
            case "upload":
                await UploadAsync(context);
                return;
            case "cookies":
                context.Response.Headers.Append("Set-Cookie", "a=1; Path=/");
                context.Response.Headers.Append("Set-Cookie", "b=2; Path=/");
                await context.Response.WriteAsync("cookies");
                return;
            case "set-gateway-cookie":
                // Tries to plant the portal's session cookie next to a cookie of its own.
                context.Response.Headers.Append("Set-Cookie", "apigate_portal_session=planted; Path=/portal; HttpOnly");
                context.Response.Headers.Append("Set-Cookie", "own=1; Path=/");
                await context.Response.WriteAsync("cookies");
                return;
            case "set-host-gateway-cookie":
                // Tries to plant the console's session cookie under the name it has over TLS.
                context.Response.Headers.Append("Set-Cookie", "own=1; Path=/");
                context.Response.Headers.Append("Set-Cookie", "__Host-apigate_ui_session=planted; Path=/; Secure; HttpOnly");
                await context.Response.WriteAsync("cookies");
                return;
            case "echo-body":
                await EchoBodyAsync(context);
                return;
            case "json":
                context.Response.ContentType = "application/json; charset=utf-8";
                await context.Response.WriteAsync(SampleJson);
                return;
            case "gzip-json":
                // Compresses when the request allows it, as most frameworks and CDNs do (with ?always, even unasked).
                context.Response.ContentType = "application/json";
                if (request.Headers.AcceptEncoding.ToString().Contains("gzip", StringComparison.OrdinalIgnoreCase) || request.Query.ContainsKey("always"))
                {
                    context.Response.Headers.ContentEncoding = "gzip";
                    await using var gzip = new System.IO.Compression.GZipStream(context.Response.Body, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true);
                    if (request.Query.TryGetValue("pad", out var pad))
                    {
                        // A small compressed body that decodes to a large one: {"pad":"xxx…", …the sample's fields}.
                        await gzip.WriteAsync(System.Text.Encoding.UTF8.GetBytes("{\"pad\":\"" + new string('x', int.Parse(pad!, System.Globalization.CultureInfo.InvariantCulture)) + "\"," + SampleJson[1..]));
                        return;
                    }

                    await gzip.WriteAsync(System.Text.Encoding.UTF8.GetBytes(SampleJson));
                    return;
                }

                await context.Response.WriteAsync(SampleJson);
                return;
            case "big-json":
                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync("{\"pad\":\"" + new string('x', int.Parse(request.Query["bytes"]!)) + "\",\"secret\":\"s\"}");
                return;
            case "redirect":
                // An absolute redirect built from the address the request was sent to (or elsewhere, with ?to=).
                context.Response.StatusCode = 302;
                context.Response.Headers.Location = request.Query["to"].FirstOrDefault() ?? $"http://127.0.0.1:{Port}/landing?x=1";
                return;
            case "healthz":
                if (HealthzHeld is { } held)
                {
                    await held;
                }

                context.Response.StatusCode = Healthy ? 200 : 503;
                await context.Response.WriteAsync(Healthy ? "ok" : "down");
                return;
            case "reset":
                // Drop the connection without answering: the client sees a reset before any response byte.
                context.Abort();
                return;
            case "events-as":
                // Two events' worth of bytes with the status and Content-Type the test asks for.
                context.Response.StatusCode = int.Parse(request.Query["code"]!);
                context.Response.ContentType = request.Query["type"]!;
                await context.Response.WriteAsync("data: one\n\ndata: two\n\n");
                return;
            case "status":
                context.Response.StatusCode = int.Parse(request.Query["code"]!);
                await context.Response.WriteAsync("upstream says " + context.Response.StatusCode);
                return;
            default:
                if (DelayMs > 0)
                {
                    await Task.Delay(DelayMs, context.RequestAborted);
                }

                await EchoAsync(context, Port);
                return;
        }
    }

    private static async Task EchoAsync(HttpContext context, int port)
    {
        var request = context.Request;
        long bodyLength = 0;
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
        {
            bodyLength += read;
        }

        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            method = request.Method,
            path = request.Path.Value,
            query = request.QueryString.Value,
            body_length = bodyLength,
            port,
        }));
    }

    /// <summary>The body <c>/json</c> answers with, for response transform tests.</summary>
    public const string SampleJson =
        "{\"_id\":\"42\",\"email\":\"user@domain.com\",\"_links\":{\"internal\":\"/admin/42\",\"self\":\"/users/42\"},\"items\":[{\"name\":\"a\",\"secret\":\"s1\"},{\"name\":\"b\",\"secret\":\"s2\"}]}";

    /// <summary>Answers with the request's body, its Content-Length header and its Content-Type.</summary>
    private static async Task EchoBodyAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(JsonSerializer.Serialize(new
        {
            body,
            content_length = context.Request.ContentLength,
            content_type = context.Request.ContentType,
            method = context.Request.Method,
            query = context.Request.QueryString.Value,
        }));
    }

    private static async Task TrickleAsync(HttpContext context)
    {
        var chunks = int.Parse(context.Request.Query["chunks"]!);
        var interval = int.Parse(context.Request.Query["interval"]!);
        await context.Response.StartAsync(context.RequestAborted);
        for (var i = 0; i < chunks; i++)
        {
            await context.Response.WriteAsync($"chunk{i}\n", context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
            await Task.Delay(interval, context.RequestAborted);
        }
    }

    private async Task SseAsync(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        await context.Response.WriteAsync("event: first\ndata: one\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
        FirstEventSent.TrySetResult();
        await SecondEventGate.Task.WaitAsync(TimeSpan.FromSeconds(30), context.RequestAborted);
        await context.Response.WriteAsync("event: second\ndata: two\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    /// <summary>
    /// <see cref="SseAsync"/>'s two events compressed with <paramref name="coding"/> (gzip, br, deflate — zlib-wrapped,
    /// as RFC 9110 says — or raw-deflate, labelled deflate as some servers send it) whatever the request asked for, as a
    /// backend whose compression ignores <c>Accept-Encoding</c> does; the compressor is flushed after each event, so the
    /// first can be decoded before the second is sent.
    /// </summary>
    private async Task CompressedSseAsync(HttpContext context, string coding)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.ContentEncoding = coding == "raw-deflate" ? "deflate" : coding;
        await using var body = coding switch
        {
            "gzip" => new System.IO.Compression.GZipStream(context.Response.Body, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true),
            "deflate" => new System.IO.Compression.ZLibStream(context.Response.Body, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true),
            "raw-deflate" => new System.IO.Compression.DeflateStream(context.Response.Body, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true),
            _ => (Stream)new System.IO.Compression.BrotliStream(context.Response.Body, System.IO.Compression.CompressionLevel.Fastest, leaveOpen: true),
        };
        await body.WriteAsync("event: first\ndata: one\n\n"u8.ToArray(), context.RequestAborted);
        await body.FlushAsync(context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
        await SecondEventGate.Task.WaitAsync(TimeSpan.FromSeconds(30), context.RequestAborted);
        await body.WriteAsync("event: second\ndata: two\n\n"u8.ToArray(), context.RequestAborted);
    }

    private static async Task WebSocketEchoAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = 400;
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var buffer = new byte[64 * 1024];
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                return;
            }

            await socket.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, CancellationToken.None);
        }
    }

    /// <summary>
    /// Sends its close frame (1000, no reason) at once, then holds the connection while it waits for the client's close
    /// (RFC 6455 §5.5.1) until the connection ends.
    /// </summary>
    private static async Task WebSocketCloseHeldAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = 400;
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        try
        {
            await socket.ReceiveAsync(new byte[1024], CancellationToken.None);
        }
        catch (WebSocketException)
        {
            // the connection ended without the client's close
        }
    }

    /// <summary>
    /// Sends one binary message of <paramref name="bytes"/> as fast as the connection takes it, in 64 KiB frames, and
    /// ends when it is sent or the connection is gone; with <paramref name="vanish"/>, the message is never finished: once
    /// its bytes are sent the connection is reset, without a close frame.
    /// </summary>
    private static async Task WebSocketFloodAsync(HttpContext context, long bytes, bool vanish = false)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = 400;
            return;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var chunk = new byte[64 * 1024];
        try
        {
            for (long sent = 0; sent < bytes; sent += chunk.Length)
            {
                var size = (int)Math.Min(chunk.Length, bytes - sent);
                await socket.SendAsync(chunk.AsMemory(0, size), WebSocketMessageType.Binary, !vanish && sent + size >= bytes, context.RequestAborted);
            }

            if (vanish)
            {
                context.Abort();
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException)
        {
            // the gateway's side of the tunnel went away
        }
    }

    // With chunked, no Content-Length: the body is sent (and forwarded to the client) in chunked transfer coding.
    private static async Task DownloadAsync(HttpContext context, long bytes, bool chunked)
    {
        context.Response.ContentType = "application/octet-stream";
        context.Response.ContentLength = chunked ? null : bytes;
        var chunk = new byte[64 * 1024];
        for (long sent = 0; sent < bytes; sent += chunk.Length)
        {
            var size = (int)Math.Min(chunk.Length, bytes - sent);
            await context.Response.Body.WriteAsync(chunk.AsMemory(0, size), context.RequestAborted);
        }
    }

    private async Task UploadAsync(HttpContext context)
    {
        var buffer = new byte[64 * 1024];
        long total = 0;
        int read;
        while ((read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted)) > 0)
        {
            total += read;
        }

        Interlocked.Exchange(ref UploadedBytes, total);
        await context.Response.WriteAsync(total.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }
}
