using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Infrastructure;

/// <summary>
/// A loopback backend listening with chosen HTTP protocols (e.g. HTTP/2 only, cleartext) and optionally TLS. Every
/// request is read whole and answered 200 with the protocol it arrived on as the body (<c>HTTP/2</c>, <c>HTTP/1.1</c>) and recorded;
/// a WebSocket request (an HTTP/1.1 upgrade, or an HTTP/2 extended CONNECT) is accepted and every message echoed.
/// </summary>
internal sealed class ProtocolUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ProtocolUpstream(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    public string Url { get; }

    /// <summary>
    /// The path (its end) answered with hop-by-hop and gateway-owned names: <c>Proxy-Foo</c> and <c>X-Kept</c> headers and, over
    /// HTTP/2, trailers <c>X-Kept-Trailer</c>, <c>Proxy-Foo</c>, <c>Set-Cookie: apigate_session=…</c>, <c>X-Request-ID</c>,
    /// <c>X-Quota-Remaining</c> and <c>Content-Length</c>.
    /// </summary>
    public const string HostilePath = "/hostile-headers";

    /// <summary>Path and protocol of every request received, health probes included.</summary>
    public ConcurrentQueue<(string Path, string Protocol)> Received { get; } = new();

    /// <summary>The connections requests arrived on (Kestrel's connection ids).</summary>
    public ConcurrentDictionary<string, int> Connections { get; } = new();

    /// <summary>A path ending in this is answered after a quarter of a second (or <c>?ms=</c>), to hold streams open.</summary>
    public const string SlowPath = "/slow";

    public static async Task<ProtocolUpstream> StartAsync(HttpProtocols protocols, X509Certificate2? certificate = null, int? maxStreamsPerConnection = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Limits.Http2.MaxStreamsPerConnection = maxStreamsPerConnection ?? k.Limits.Http2.MaxStreamsPerConnection);
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = protocols;
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        var app = builder.Build();
        ProtocolUpstream? self = null;
        app.UseWebSockets();
        app.Run(async context =>
        {
            if (context.WebSockets.IsWebSocketRequest)
            {
                self!.Received.Enqueue((context.Request.Path.Value ?? "", context.Request.Protocol));
                await EchoAsync(context);
                return;
            }

            // The body is read before answering: an HTTP/2 server that answers first resets the unread request stream.
            await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            self!.Received.Enqueue((context.Request.Path.Value ?? "", context.Request.Protocol));
            self.Connections.AddOrUpdate(context.Connection.Id, 1, static (_, n) => n + 1);
            if (context.Request.Path.Value?.EndsWith(SlowPath, StringComparison.Ordinal) == true)
            {
                await Task.Delay(context.Request.Query.TryGetValue("ms", out var ms) ? int.Parse(ms!, System.Globalization.CultureInfo.InvariantCulture) : 250, context.RequestAborted);
            }

            context.Response.ContentType = "text/plain";
            if (context.Request.Path.Value?.EndsWith(HostilePath, StringComparison.Ordinal) == true)
            {
                // Hop-by-hop and gateway-owned names in the headers and, over HTTP/2, the trailers (one legitimate trailer too).
                context.Response.Headers["Proxy-Foo"] = "1";
                context.Response.Headers["X-Kept"] = "header";
                if (context.Response.SupportsTrailers())
                {
                    context.Response.DeclareTrailer("X-Kept-Trailer");
                    context.Response.AppendTrailer("X-Kept-Trailer", "trailer");
                    context.Response.AppendTrailer("Proxy-Foo", "1");
                    context.Response.AppendTrailer("Set-Cookie", "apigate_session=PLANTED; Path=/");
                    context.Response.AppendTrailer("X-Request-ID", "planted");
                    context.Response.AppendTrailer("X-Quota-Remaining", "999999");
                    context.Response.AppendTrailer("Content-Length", "99");
                }
            }

            await context.Response.WriteAsync(context.Request.Protocol, context.RequestAborted);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        self = new ProtocolUpstream(app, address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return self;
    }

    private static async Task EchoAsync(HttpContext context)
    {
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var buffer = new byte[4096];
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer, context.RequestAborted);
            if (received.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, context.RequestAborted);
                return;
            }

            await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, context.RequestAborted);
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }
}
