// The upstreams of bench/streams.sh for HTTP/2 (UPSTREAM_HTTP=2): on each port, a WebSocket upgrade (HTTP/1.1) or
// extended CONNECT (HTTP/2, RFC 8441) gets an echo of every message, as `streams.py ws-upstream`; any other request gets
// one SSE event every --interval seconds, numbered from 0 per stream, until the client goes away — byte for byte the
// events of `streams.py sse-upstream`.
//
//   dotnet StreamUpstream.dll --h1-port 18291 --h2-port 18295 [--interval 2]
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Server.Kestrel.Core;

var h1Port = Argument("--h1-port", 18291);
var h2Port = Argument("--h2-port", 18295);
var interval = TimeSpan.FromSeconds(Argument("--interval", 2));

var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Limits.MaxConcurrentConnections = null;
    kestrel.Limits.MinResponseDataRate = null;
    kestrel.Listen(System.Net.IPAddress.Loopback, h1Port, listen => listen.Protocols = HttpProtocols.Http1);
    kestrel.Listen(System.Net.IPAddress.Loopback, h2Port, listen => listen.Protocols = HttpProtocols.Http2); // h2c, prior knowledge
});
var app = builder.Build();
app.UseWebSockets();
app.Run(async context =>
{
    if (context.WebSockets.IsWebSocketRequest)
    {
        await EchoAsync(context);
        return;
    }

    context.Response.ContentType = "text/event-stream";
    context.Response.Headers.CacheControl = "no-cache";
    var aborted = context.RequestAborted;
    using var timer = new PeriodicTimer(interval);
    try
    {
        for (var seq = 0; !aborted.IsCancellationRequested; seq++)
        {
            var text = string.Create(CultureInfo.InvariantCulture, $"id: {seq}\ndata: {{\"seq\":{seq},\"text\":\"token token token token\"}}\n\n");
            await context.Response.Body.WriteAsync(Encoding.ASCII.GetBytes(text), aborted);
            await context.Response.Body.FlushAsync(aborted);
            await timer.WaitForNextTickAsync(aborted);
        }
    }
    catch (OperationCanceledException)
    {
    }
});
await app.RunAsync();

static async Task EchoAsync(HttpContext context)
{
    using var socket = await context.WebSockets.AcceptWebSocketAsync();
    var buffer = new byte[4096];
    try
    {
        while (true)
        {
            var received = await socket.ReceiveAsync(buffer.AsMemory(), context.RequestAborted);
            if (received.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, context.RequestAborted);
                return;
            }

            await socket.SendAsync(buffer.AsMemory(0, received.Count), received.MessageType, received.EndOfMessage, context.RequestAborted);
        }
    }
    catch (Exception ex) when (ex is OperationCanceledException or System.Net.WebSockets.WebSocketException or IOException)
    {
    }
}

int Argument(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}
