using System.Net;
using System.Net.WebSockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Usage;

public sealed class MeteringEndToEndTests : GatewayTestBase
{
    // Raw rows for the public routes' requests too, so each one's recorded units can be read back.
    private protected override void Configure(GatewayOptions options) => options.UsageRawEvents = "all";

    private protected override Task SetUpAsync() => Gateway.AddUpstreamAsync("backend", Upstream.Url);

    [Fact]
    public async Task RequestsJustBeforeAGracefulStop_AreAllRecorded()
    {
        await Gateway.AddRouteAsync(new RouteInput { Name = "plain", Path = "/plain/*", Upstream = "backend" });
        const int count = 200;

        var responses = await Task.WhenAll(Enumerable.Range(0, count).Select(i => Gateway.Client.GetAsync(Gateway.Url + "/plain/" + i)));
        await Gateway.StopAsync();

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var events = await EventsAsync(UsageEvent.Anonymous, count + 10);
        Assert.Equal(count, events.Count);
        Assert.All(events, e => Assert.Equal(1, e.Units));
    }

    [Fact]
    public async Task UsageEvent_KeyInThePath_RecordsItsLookupPrefixOnly()
    {
        // Arrange
        var (key, _, _) = await Gateway.CreateKeyAsync("pasted@example.com");
        await Gateway.AddRouteAsync(new RouteInput { Name = "plain", Path = "/plain/*", Upstream = "backend" });

        // Act
        var response = await Gateway.Client.GetAsync(Gateway.Url + "/plain/" + key);
        await Gateway.StopAsync();

        // Assert
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var e = Assert.Single(await EventsAsync(UsageEvent.Anonymous, 10));
        Assert.Equal($"/plain/{key[..12]}***", e.Path);
    }

    [Fact]
    public async Task UsageEvent_HasEveryField()
    {
        var (key, user, record) = await Gateway.CreateKeyAsync("fields@example.com");
        var route = await Gateway.AddRouteAsync(new RouteInput { Name = "private", Path = "/private/*", Upstream = "backend", AuthRequired = true });
        using var request = new HttpRequestMessage(HttpMethod.Post, Gateway.Url + "/private/echo-body") { Content = new StringContent("0123456789") };
        request.Headers.Add("X-API-Key", key);
        request.Headers.Add("X-Request-ID", "req-fields-1");

        var response = await Gateway.Client.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();
        await Gateway.StopAsync();

        var e = Assert.Single(await EventsAsync(user.Id, 10));
        Assert.Equal(record.Id, e.KeyId);
        Assert.Equal(route.Id, e.RouteId);
        Assert.StartsWith("up_", e.UpstreamId);
        Assert.Equal("POST", e.Method);
        Assert.Equal("/private/echo-body", e.Path);
        Assert.Equal(200, e.Status);
        Assert.Equal(10, e.RequestBytes);
        Assert.Equal(body.Length, e.ResponseBytes);
        Assert.Equal("127.0.0.1", e.ClientIp);
        Assert.Equal("req-fields-1", e.RequestId);
        Assert.True(e.LatencyMs > 0);
    }

    [Fact]
    public async Task MeteringModes_BytesAndResponseField_AndFailingExpressionBillsOne()
    {
        await Gateway.AddRouteAsync(new RouteInput { Name = "bytes", Path = "/bytes/*", Upstream = "backend", MeteringMode = "bytes" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "field", Path = "/field/*", Upstream = "backend", MeteringMode = "response_field", MeteringExpr = "response.body.items.length" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "broken", Path = "/broken/*", Upstream = "backend", MeteringMode = "custom", MeteringExpr = "response.body.nothing.here" });

        await Gateway.Client.GetAsync(Gateway.Url + "/bytes/download?bytes=" + (5 * 1024));
        await Gateway.Client.GetAsync(Gateway.Url + "/field/json");
        var broken = await Gateway.Client.GetAsync(Gateway.Url + "/broken/json");
        await Gateway.StopAsync();

        var events = await EventsAsync(UsageEvent.Anonymous, 10);
        Assert.Equal(HttpStatusCode.OK, broken.StatusCode);
        Assert.Equal(5, events.Single(e => e.Path.StartsWith("/bytes", StringComparison.Ordinal)).Units);
        Assert.Equal(2, events.Single(e => e.Path.StartsWith("/field", StringComparison.Ordinal)).Units);
        Assert.Equal(1, events.Single(e => e.Path.StartsWith("/broken", StringComparison.Ordinal)).Units);
    }

    [Fact]
    public async Task ResponseFieldMetering_ClientAsksForGzip_StillBilledByTheBody()
    {
        // Arrange: the upstream compresses whenever the request allows it.
        await Gateway.AddRouteAsync(new RouteInput { Name = "field", Path = "/field/*", Upstream = "backend", MeteringMode = "response_field", MeteringExpr = "response.body.items.length" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "plain", Path = "/plain/*", Upstream = "backend" });

        // Act
        foreach (var path in new[] { "/field/gzip-json", "/plain/gzip-json" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + path);
            request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");
            using var response = await Gateway.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await Gateway.StopAsync();

        // Assert: the metered route's upstream was not offered gzip and its count came from the body; other routes
        // still pass the client's Accept-Encoding.
        var received = Upstream.Received.ToList();
        Assert.False(received.Single(r => r.Path == "/field/gzip-json").Headers.ContainsKey("Accept-Encoding"));
        Assert.Equal(["gzip"], received.Single(r => r.Path == "/plain/gzip-json").Headers["Accept-Encoding"]);
        var events = await EventsAsync(UsageEvent.Anonymous, 10);
        Assert.Equal(2, events.Single(e => e.Path == "/field/gzip-json").Units);
    }

    [Fact]
    public async Task ResponseFieldMetering_UpstreamCompressesUnasked_DecodedForTheClientAndBilledByTheBody()
    {
        // Arrange: a route billed by a field of the response, and an upstream that compresses even when not offered a
        // coding. Before, response.body read null and the request was billed by the expression's fallback.
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "field", Path = "/field/*", Upstream = "backend", MeteringMode = "response_field", MeteringExpr = "response.body ? response.body.items.length : 99",
        });
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/field/gzip-json?always=1");
        request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip");

        // Act
        using var response = await Gateway.Client.SendAsync(request);
        var body = await response.Content.ReadAsStringAsync();
        await WaitForEventsAsync(1);
        await Gateway.StopAsync();

        // Assert: the client got the body decoded (it was offered no coding on the way up), billed by its two items
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.Equal(TestUpstream.SampleJson, body);
        Assert.Equal(2, Assert.Single(await EventsAsync(UsageEvent.Anonymous, 10)).Units);
    }

    [Fact]
    public async Task ResponseFieldMetering_UpstreamCompressesUnaskedAndDecodesPastTheCaptureLimit_StreamedToTheClientBilledByTheFallback()
    {
        // Arrange: a few KB of gzip that decode to 4 MiB, past the capture limit (1 MiB) the expression's body is kept to
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "field", Path = "/field/*", Upstream = "backend", MeteringMode = "response_field", MeteringExpr = "response.body ? response.body.items.length : 99",
        });

        // Act
        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/field/gzip-json?always=1&pad=" + (4 * 1024 * 1024));
        var body = await response.Content.ReadAsByteArrayAsync();
        await WaitForEventsAsync(1);
        await Gateway.StopAsync();

        // Assert: the whole decoded body reached the client (streamed, not held), and the expression saw no body
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(4 * 1024 * 1024 + TestUpstream.SampleJson.Length + 9, body.Length);
        Assert.Equal(99, Assert.Single(await EventsAsync(UsageEvent.Anonymous, 10)).Units);
    }

    [Fact]
    public async Task SseRoute_UpstreamAnswersWithoutAnEventStream_SseEventsBillsNothing_TheDocumentedFallbackBillsOne()
    {
        // Arrange: two sse routes to an upstream that answers a plain JSON body (no event stream), one billed by
        // sseEvents alone, one by the fallback docs/usage.md gives for such answers
        await Gateway.AddRouteAsync(new RouteInput { Name = "alone", Path = "/alone/*", Upstream = "backend", Protocol = "sse", MeteringMode = "custom", MeteringExpr = "sseEvents" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "fallback", Path = "/fallback/*", Upstream = "backend", Protocol = "sse", MeteringMode = "custom", MeteringExpr = "sseEvents > 0 ? sseEvents : 1" });

        // Act
        using var alone = await Gateway.Client.GetAsync(Gateway.Url + "/alone/gzip-json");
        using var fallback = await Gateway.Client.GetAsync(Gateway.Url + "/fallback/gzip-json");
        await WaitForEventsAsync(2);
        await Gateway.StopAsync();

        // Assert
        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (alone.StatusCode, fallback.StatusCode));
        var events = await EventsAsync(UsageEvent.Anonymous, 10);
        Assert.Equal(0, events.Single(e => e.Path.StartsWith("/alone", StringComparison.Ordinal)).Units);
        Assert.Equal(1, events.Single(e => e.Path.StartsWith("/fallback", StringComparison.Ordinal)).Units);
    }

    [Theory]
    [InlineData(200, "text/event-stream", 2)]
    [InlineData(200, "Text/Event-Stream; charset=utf-8", 2)]
    [InlineData(200, "text/plain", 0)]
    [InlineData(200, "application/json", 0)]
    [InlineData(200, "text/event-streams", 0)]
    [InlineData(404, "text/event-stream", 0)]
    public async Task SseRoute_EventsInAnAnswerThatIsNoEventStream_AreNotCounted(int status, string contentType, int expectedUnits)
    {
        // Arrange: docs/usage.md counts events as a browser's EventSource dispatches them, and an answer that is not an
        // event stream has none (an EventSource fails such a response without dispatching anything).
        await Gateway.AddRouteAsync(new RouteInput { Name = "events", Path = "/events/*", Upstream = "backend", Protocol = "sse", MeteringMode = "custom", MeteringExpr = "sseEvents" });

        // Act
        using var response = await Gateway.Client.GetAsync($"{Gateway.Url}/events/events-as?code={status}&type={Uri.EscapeDataString(contentType)}");
        var body = await response.Content.ReadAsStringAsync();
        await WaitForEventsAsync(1);
        await Gateway.StopAsync();

        // Assert
        Assert.Equal((HttpStatusCode)status, response.StatusCode);
        Assert.Equal("data: one\n\ndata: two\n\n", body);
        var e = Assert.Single(await EventsAsync(UsageEvent.Anonymous, 10));
        Assert.Equal(expectedUnits, e.Units);
    }

    [Fact]
    public async Task SseEventsAndWebSocketMessages_AreCounted()
    {
        await Gateway.AddRouteAsync(new RouteInput { Name = "events", Path = "/events/*", Upstream = "backend", Protocol = "sse", MeteringMode = "custom", MeteringExpr = "sseEvents" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "socket", Path = "/socket/*", Upstream = "backend", Protocol = "websocket", MeteringMode = "custom", MeteringExpr = "wsMessages" });
        Upstream.SecondEventGate.SetResult();

        var stream = await Gateway.Client.GetStringAsync(Gateway.Url + "/events/sse");
        using (var socket = new ClientWebSocket())
        {
            await socket.ConnectAsync(new Uri(Gateway.Url.Replace("http://", "ws://") + "/socket/ws"), CancellationToken.None);
            var buffer = new byte[256];
            for (var i = 0; i < 3; i++)
            {
                await socket.SendAsync(Encoding.UTF8.GetBytes("message " + i), WebSocketMessageType.Text, true, CancellationToken.None);
                await socket.ReceiveAsync(buffer, CancellationToken.None);
            }

            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        }

        await WaitForEventsAsync(2);
        await Gateway.StopAsync();

        var events = await EventsAsync(UsageEvent.Anonymous, 10);
        Assert.Contains("data: two", stream);
        Assert.Equal(2, events.Single(e => e.Path.StartsWith("/events", StringComparison.Ordinal)).Units);
        Assert.Equal(6, events.Single(e => e.Path.StartsWith("/socket", StringComparison.Ordinal)).Units); // 3 sent + 3 echoed
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("br")]
    [InlineData("deflate")]
    [InlineData("raw-deflate")]
    public async Task SseEvents_UpstreamCompressesTheStreamUnasked_ClientGetsEachEventDecodedAsSentAndEachIsCounted(string coding)
    {
        // Arrange: the gateway offers an sse route's upstream no coding, but this one compresses all the same; the
        // client would take gzip. Passed on compressed, the stream's events could not be counted: it was billed 0 units.
        await Gateway.AddRouteAsync(new RouteInput { Name = "events", Path = "/events/*", Upstream = "backend", Protocol = "sse", MeteringMode = "custom", MeteringExpr = "sseEvents" });
        using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/events/compressed-sse?coding=" + coding);
        request.Headers.TryAddWithoutValidation("Accept-Encoding", "gzip, deflate, br");

        // Act: the first event is read while the upstream still holds the second.
        const string firstEvent = "event: first\ndata: one\n\n";
        using var response = await Gateway.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[1024];
        var firstRead = 0;
        while (firstRead < firstEvent.Length && await body.ReadAsync(buffer.AsMemory(firstRead)).AsTask().WaitAsync(TimeSpan.FromSeconds(10)) is > 0 and var read)
        {
            firstRead += read;
        }

        var secondSent = Upstream.SecondEventGate.Task.IsCompleted;
        Upstream.SecondEventGate.SetResult();
        using var reader = new StreamReader(body);
        var rest = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await WaitForEventsAsync(1);
        await Gateway.StopAsync();

        // Assert
        Assert.Empty(response.Content.Headers.ContentEncoding);
        Assert.Equal(firstEvent, Encoding.UTF8.GetString(buffer, 0, firstRead));
        Assert.False(secondSent);
        Assert.Equal("event: second\ndata: two\n\n", rest);
        var e = Assert.Single(await EventsAsync(UsageEvent.Anonymous, 10));
        Assert.Equal(2, e.Units);
        Assert.Equal("event: first\ndata: one\n\nevent: second\ndata: two\n\n".Length, e.ResponseBytes);
    }

    [Fact]
    public async Task MeteredUnits_FeedTheQuota()
    {
        var (key, user, _) = await Gateway.CreateKeyAsync("units@example.com", new PlanInput { Id = "hundred", Name = "Hundred", RequestsPerMonth = 100 });
        await Gateway.AddRouteAsync(new RouteInput { Name = "five", Path = "/five/*", Upstream = "backend", AuthRequired = true, MeteringMode = "custom", MeteringExpr = "5" });

        var first = await SendAsync("/five/x", key);
        var second = await SendAsync("/five/x", key);

        Assert.Equal("1", first.Headers.GetValues("X-Quota-Used").Single());
        Assert.Equal("6", second.Headers.GetValues("X-Quota-Used").Single()); // 5 metered for the first + 1 admitted
        await Gateway.StopAsync();
        Assert.Equal([5L, 5L], (await EventsAsync(user.Id, 10)).Select(e => e.Units));
    }

    [Theory]
    [InlineData("""{"body":{"remove":["items"]}}""", "response.body.items.length", 2)]
    [InlineData("""{"body":{"rename":{"_id":"id"}}}""", "Number(response.body._id)", 42)]
    [InlineData("""{"body":{"mask":["_id"]}}""", "Number(response.body._id)", 42)]
    public async Task ResponseField_RouteTransformHidesTheFieldItBillsBy_BilledByWhatTheUpstreamAnswered(string transform, string expression, long units)
    {
        // Arrange: the upstream answers {"_id":"42", …, "items":[two]}; the route bills by a field it removes, renames or
        // masks in what its clients see — metering read the edited body and billed 1 unit (and logged a failure) each time
        var (key, user, _) = await Gateway.CreateKeyAsync("hidden-field@example.com");
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "hidden", Path = "/hidden/*", Upstream = "backend", AuthRequired = true, ResponseTransform = transform,
            MeteringMode = "response_field", MeteringExpr = expression,
        });

        // Act
        using var response = await SendAsync("/hidden/json", key);
        var body = await response.Content.ReadAsStringAsync();
        await Gateway.StopAsync();

        // Assert: the client got the edited body, the bill counts what the upstream reported
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotEqual(TestUpstream.SampleJson, body);
        Assert.Equal(units, Assert.Single(await EventsAsync(user.Id, 10)).Units);
    }

    [Fact]
    public async Task QueuedForAConnection_ClientGoesAway_NotBilledNorRecorded()
    {
        // Arrange: one connection to the upstream (max_conns 1), held by a request the backend keeps waiting; three more
        // wait in the gateway's own pool for it, and their clients give up there
        var (key, user, _) = await Gateway.CreateKeyAsync("queued@example.com");
        await Gateway.AddUpstreamAsync("capped", Upstream.Url, new UpstreamInput { MaxConns = 1, Timeout = "30s" });
        await Gateway.AddRouteAsync(new RouteInput { Name = "capped", Path = "/capped/*", Upstream = "capped", AuthRequired = true });
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Upstream.RequestHeld = release.Task;
        var holding = SendAsync("/capped/held", key);
        await Poll.UntilAsync(() => Upstream.Served == 1);

        // Act
        var queued = Enumerable.Range(0, 3).Select(async i =>
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
            using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/capped/held?i=" + i);
            request.Headers.Add("X-API-Key", key);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Gateway.Client.SendAsync(request, cancel.Token));
        });
        await Task.WhenAll(queued);
        await Task.Delay(300); // the gateway notices the clients left
        release.SetResult();
        using var held = await holding;
        var counters = Gateway.Service<ApiGate.Gateway.Limits.QuotaCounters>();
        await Gateway.StopAsync();

        // Assert: only the request the backend saw is billed and recorded
        Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        Assert.Equal(1, Upstream.Served);
        var e = Assert.Single(await EventsAsync(user.Id, 10));
        Assert.Equal(200, e.Status);
        Assert.Equal(1, counters.Used(user.Id));
    }

    [Fact]
    public async Task QueuedForAConnection_TimesOutThere_NotBilledNorRecorded()
    {
        // Arrange: one connection to the upstream (max_conns 1) and a 3 s timeout; a streamed response that trickles a
        // chunk every 100 ms for 6 s holds the connection (a stream's timeout is an idle one), so requests to an http
        // route of the same upstream wait for it in the gateway's own pool and time out there. The margins are wide both
        // ways: a busy machine may pause the trickle for a while (a pause past the idle timeout cut the stream with a
        // 1 s timeout), and the waiting requests time out 3 s before the stream lets the connection go.
        var (key, user, _) = await Gateway.CreateKeyAsync("timed-out@example.com");
        await Gateway.AddUpstreamAsync("capped", Upstream.Url, new UpstreamInput { MaxConns = 1, Timeout = "3s" });
        await Gateway.AddRouteAsync(new RouteInput { Name = "capped-stream", Path = "/capped/trickle", Upstream = "capped", AuthRequired = true, Protocol = "http_stream" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "capped", Path = "/capped/*", Upstream = "capped", AuthRequired = true });
        var stream = SendAsync("/capped/trickle?chunks=60&interval=100", key);
        await Poll.UntilAsync(() => Upstream.Served == 1);

        // Act
        var queued = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => SendAsync("/capped/json?i=" + i, key)));
        using var streamed = await stream;
        var body = await streamed.Content.ReadAsStringAsync();
        var counters = Gateway.Service<ApiGate.Gateway.Limits.QuotaCounters>();
        await Gateway.StopAsync();

        // Assert: only the stream reached the backend, and only it is billed and recorded
        Assert.All(queued, r => Assert.Equal(HttpStatusCode.GatewayTimeout, r.StatusCode));
        Assert.Contains("chunk59", body);
        Assert.Equal(1, Upstream.Served);
        var e = Assert.Single(await EventsAsync(user.Id, 10));
        Assert.Equal("/capped/trickle", e.Path);
        Assert.Equal(1, counters.Used(user.Id));
        foreach (var response in queued)
        {
            response.Dispose();
        }
    }

    private Task<HttpResponseMessage> SendAsync(string path, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + path);
        request.Headers.Add("X-API-Key", key);
        return Gateway.Client.SendAsync(request);
    }

    /// <summary>Streams end a moment after the client sees them; wait until the gateway has queued their events.</summary>
    private async Task WaitForEventsAsync(int count)
    {
        var recorder = Gateway.Service<ApiGate.Gateway.Usage.UsageRecorder>();
        for (var i = 0; i < 100 && recorder.Written + recorder.QueueDepth < count; i++)
        {
            await Task.Delay(50);
        }
    }

    private async Task<IReadOnlyList<UsageEvent>> EventsAsync(string userId, int limit)
    {
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(Gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        return await store.GetRecentUsageAsync(userId, limit, CancellationToken.None);
    }
}
