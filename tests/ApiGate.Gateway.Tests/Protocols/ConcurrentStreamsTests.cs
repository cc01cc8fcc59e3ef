using System.Net;
using System.Net.WebSockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>
/// A few hundred SSE streams and WebSocket sessions open through the gateway at the same time, on a public and a
/// key-protected route with metering on: every event and every echo arrives, in order, and the stored usage carries
/// exactly the events and messages delivered. Memory and timing figures belong to bench/streams.sh, not here.
/// </summary>
public sealed class ConcurrentStreamsTests : GatewayTestBase
{
    private const int StreamsPerRoute = 150;
    private const int EventsPerStream = 10;
    private const int MessagesPerSocket = 10;
    private string _key = "";
    private string _userId = "";

    // Raw rows for the public routes' streams too, so each stream's recorded units can be read back.
    private protected override void Configure(GatewayOptions options) => options.UsageRawEvents = "all";

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        (_key, var user, _) = await Gateway.CreateKeyAsync("streams@example.com",
            new PlanInput { Id = "streams", Name = "Streams", RateLimitPerMinute = 0, RequestsPerMonth = 1_000_000 }, reload: false);
        _userId = user.Id;
        await Gateway.AddRouteAsync(new RouteInput { Name = "socket", Path = "/socket/*", Upstream = "backend", Protocol = "websocket", MeteringMode = "custom", MeteringExpr = "wsMessages" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "socket-key", Path = "/socket-key/*", Upstream = "backend", AuthRequired = true, Protocol = "websocket", MeteringMode = "custom", MeteringExpr = "wsMessages",
        });
    }

    [Fact]
    public async Task SseStreams_300ConcurrentPublicAndKeyProtected_EveryEventArrivesAndIsMetered()
    {
        // Arrange: the upstream holds every stream's first event until all 300 are open, so they are concurrent.
        await using var events = await CountedSseUpstream.StartAsync(expectedStreams: 2 * StreamsPerRoute, EventsPerStream);
        await Gateway.AddUpstreamAsync("events", events.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "events", Path = "/events/*", Upstream = "events", Protocol = "sse", MeteringMode = "custom", MeteringExpr = "sseEvents" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "events-key", Path = "/events-key/*", Upstream = "events", AuthRequired = true, Protocol = "sse", MeteringMode = "custom", MeteringExpr = "sseEvents",
        });

        // Act
        var streams = await Task.WhenAll(Enumerable.Range(0, 2 * StreamsPerRoute)
            .Select(i => ReadSseStreamAsync(i < StreamsPerRoute ? "/events/s" + i : "/events-key/s" + i, i < StreamsPerRoute ? null : _key)));
        await WaitForUsageAsync(2 * StreamsPerRoute);
        await Gateway.StopAsync();

        // Assert: every stream saw ids 0..9 in order, and each stream was metered at exactly its events.
        Assert.Equal(2 * StreamsPerRoute, events.StreamsServed);
        var expectedIds = Enumerable.Range(0, EventsPerStream).ToArray();
        Assert.All(streams, s =>
        {
            Assert.Equal(HttpStatusCode.OK, s.Status);
            Assert.Equal(expectedIds, s.Ids);
        });
        var publicUsage = (await UsageAsync(UsageEvent.Anonymous)).Where(e => e.Path.StartsWith("/events/", StringComparison.Ordinal)).ToList();
        var keyUsage = (await UsageAsync(_userId)).Where(e => e.Path.StartsWith("/events-key/", StringComparison.Ordinal)).ToList();
        Assert.Equal(StreamsPerRoute, publicUsage.Count);
        Assert.Equal(StreamsPerRoute, keyUsage.Count);
        Assert.All(publicUsage.Concat(keyUsage), e => Assert.Equal(EventsPerStream, e.Units));
        Assert.Equal(streams.Sum(s => (long)s.Ids.Count), publicUsage.Sum(e => e.Units) + keyUsage.Sum(e => e.Units));
    }

    [Fact]
    public async Task WebSockets_300ConcurrentPublicAndKeyProtected_EveryMessageEchoedAndMetered()
    {
        // Arrange: every session is open before any message is sent, and none closes before all have finished.
        var sockets = new ClientWebSocket[2 * StreamsPerRoute];
        for (var i = 0; i < sockets.Length; i++)
        {
            sockets[i] = new ClientWebSocket();
            if (i >= StreamsPerRoute)
            {
                sockets[i].Options.SetRequestHeader("X-API-Key", _key);
            }
        }

        var baseUrl = Gateway.Url.Replace("http://", "ws://", StringComparison.Ordinal);
        try
        {
            await Task.WhenAll(sockets.Select((s, i) => s.ConnectAsync(new Uri(baseUrl + (i < StreamsPerRoute ? "/socket/ws" : "/socket-key/ws")), CancellationToken.None)));

            // Act
            var echoed = await Task.WhenAll(sockets.Select((s, i) => ExchangeAsync(s, i)));
            await Task.WhenAll(sockets.Select(s => s.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None)));
            await WaitForUsageAsync(2 * StreamsPerRoute);
            await Gateway.StopAsync();

            // Assert: every message came back unchanged, and each session was metered at its messages both ways.
            Assert.All(sockets, s => Assert.Equal(WebSocketState.Closed, s.State));
            Assert.All(echoed, e => Assert.Equal(MessagesPerSocket, e));
            var publicUsage = (await UsageAsync(UsageEvent.Anonymous)).Where(e => e.Path.StartsWith("/socket/", StringComparison.Ordinal)).ToList();
            var keyUsage = (await UsageAsync(_userId)).Where(e => e.Path.StartsWith("/socket-key/", StringComparison.Ordinal)).ToList();
            Assert.Equal(StreamsPerRoute, publicUsage.Count);
            Assert.Equal(StreamsPerRoute, keyUsage.Count);
            Assert.All(publicUsage.Concat(keyUsage), e => Assert.Equal(2 * MessagesPerSocket, e.Units)); // sent + echoed
            Assert.Equal(2L * echoed.Sum(), publicUsage.Sum(e => e.Units) + keyUsage.Sum(e => e.Units));
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>Sends numbered messages one at a time and returns how many came back exactly as sent.</summary>
    private static async Task<int> ExchangeAsync(ClientWebSocket socket, int index)
    {
        var buffer = new byte[256];
        var echoed = 0;
        for (var m = 0; m < MessagesPerSocket; m++)
        {
            var text = $"session {index} message {m}";
            await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
            var result = await socket.ReceiveAsync(buffer, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30));
            if (result.EndOfMessage && Encoding.UTF8.GetString(buffer, 0, result.Count) == text)
            {
                echoed++;
            }
        }

        return echoed;
    }

    private async Task<(HttpStatusCode Status, List<int> Ids)> ReadSseStreamAsync(string path, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + path);
        request.Headers.Accept.ParseAdd("text/event-stream");
        if (key is not null)
        {
            request.Headers.Add("X-API-Key", key);
        }

        using var response = await Gateway.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        var ids = new List<int>();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        while (await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60)) is { } line)
        {
            if (line.StartsWith("id: ", StringComparison.Ordinal))
            {
                ids.Add(int.Parse(line.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return (response.StatusCode, ids);
    }

    /// <summary>A stream's usage event is queued a moment after the client sees its end; wait (bounded) until all are.</summary>
    private async Task WaitForUsageAsync(int count)
    {
        var recorder = Gateway.Service<ApiGate.Gateway.Usage.UsageRecorder>();
        for (var i = 0; i < 200 && recorder.Written + recorder.QueueDepth < count; i++)
        {
            await Task.Delay(50);
        }
    }

    private async Task<IReadOnlyList<UsageEvent>> UsageAsync(string userId)
    {
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(Gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        return await store.GetRecentUsageAsync(userId, 10_000, CancellationToken.None);
    }

    /// <summary>
    /// An SSE server that answers every request with <c>events</c> numbered events (<c>id: 0</c> …), 20 ms apart, and
    /// ends the response; the first event of every stream waits until <c>expectedStreams</c> requests are open.
    /// </summary>
    private sealed class CountedSseUpstream : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly int _expectedStreams;
        private readonly int _events;
        private readonly TaskCompletionSource _allOpen = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _open;
        private int _served;

        private CountedSseUpstream(WebApplication app, int expectedStreams, int events)
        {
            _app = app;
            _expectedStreams = expectedStreams;
            _events = events;
        }

        public string Url { get; private set; } = "";

        /// <summary>Streams that were sent every event.</summary>
        public int StreamsServed => Volatile.Read(ref _served);

        public static async Task<CountedSseUpstream> StartAsync(int expectedStreams, int events)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
            var app = builder.Build();
            var upstream = new CountedSseUpstream(app, expectedStreams, events);
            app.Run(upstream.ServeAsync);
            await app.StartAsync();
            upstream.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return upstream;
        }

        public async ValueTask DisposeAsync()
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _app.StopAsync(stop.Token);
            await _app.DisposeAsync();
        }

        private async Task ServeAsync(HttpContext context)
        {
            context.Response.ContentType = "text/event-stream";
            await context.Response.StartAsync(context.RequestAborted);
            if (Interlocked.Increment(ref _open) == _expectedStreams)
            {
                _allOpen.TrySetResult();
            }

            await _allOpen.Task.WaitAsync(TimeSpan.FromSeconds(60), context.RequestAborted);
            for (var i = 0; i < _events; i++)
            {
                await context.Response.WriteAsync($"id: {i}\ndata: event {i} of {context.Request.Path}\n\n", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
                await Task.Delay(20, context.RequestAborted);
            }

            Interlocked.Increment(ref _served);
        }
    }
}
