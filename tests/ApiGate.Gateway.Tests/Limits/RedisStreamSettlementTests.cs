using System.Net;
using System.Net.WebSockets;
using System.Text;
using ApiGate.Core.Management;
using ApiGate.Core.Quotas;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Limits;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Tests.Protocols;
using ApiGate.Gateway.Tests.Protocols.GrpcTest;
using Grpc.Core;
using Grpc.Net.Client;

namespace ApiGate.Gateway.Tests.Limits;

/// <summary>
/// Streamed exchanges with the limits in Redis: a gRPC call (server-streaming or bidirectional), an event stream or a
/// WebSocket that ends early — the client cancels or drops it, the upstream resets it, or a timeout cuts it — is recorded
/// exactly once, and the user's counter in Redis ends equal to the units stored for it (the lease settled once).
/// </summary>
public sealed class RedisStreamSettlementTests : IAsyncLifetime
{
    private readonly string _prefix = $"t{Guid.NewGuid():N}:";
    private GreeterUpstream _greeter = null!;
    private TestUpstream _upstream = null!;
    private TestGateway _gateway = null!;
    private GrpcChannel _channel = null!;
    private RedisServer? _redis;
    private string _key = "";
    private string _userId = "";

    public async Task InitializeAsync()
    {
        _greeter = await GreeterUpstream.StartAsync();
        _upstream = await TestUpstream.StartAsync();
        if (RedisServer.Binary is null && !RedisServer.Required)
        {
            return; // the tests are skipped (RedisFact)
        }

        _redis = await RedisServer.Shared;
        _gateway = await TestGateway.StartAsync(o =>
        {
            o.H2cPort = 0;
            o.RedisUrl = _redis.Url();
            o.RedisPrefix = _prefix;
            o.RedisTimeout = TimeSpan.FromSeconds(5); // a loaded machine: the first PING may take longer than the default
            o.ShutdownTimeout = TimeSpan.FromSeconds(1); // a call still open when the gateway stops is cut after 1 s
        });
        _channel = GrpcChannel.ForAddress(_gateway.Addresses.ElementAt(1), new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
        await _gateway.AddUpstreamAsync("grpc", _greeter.Url, new UpstreamInput { HttpVersion = "2", Timeout = "1s" });
        await _gateway.AddUpstreamAsync("backend", _upstream.Url, new UpstreamInput { Timeout = "1s" });
        // Units = response bytes: a stream cut early costs what it carried, never the one unit admitted.
        await _gateway.AddRouteAsync(new RouteInput
        {
            Name = "greeter", Path = "/apigate.tests.Greeter/*", Upstream = "grpc", Methods = "POST", AuthRequired = true,
            MeteringMode = "custom", MeteringExpr = "responseBytes",
        }, reload: false);
        await _gateway.AddRouteAsync(new RouteInput
        {
            Name = "feed", Path = "/feed/*", Upstream = "backend", AuthRequired = true, Protocol = "sse", MeteringMode = "custom", MeteringExpr = "sseEvents + 2",
        }, reload: false);
        await _gateway.AddRouteAsync(new RouteInput
        {
            Name = "socket", Path = "/socket/*", Upstream = "backend", AuthRequired = true, Protocol = "websocket", MeteringMode = "custom", MeteringExpr = "wsMessages + 2",
        }, reload: false);
        var created = await _gateway.CreateKeyAsync("streams@example.com", new PlanInput { Id = "streams", Name = "Streams", RequestsPerMonth = 1_000_000, RateLimitPerMinute = 0 });
        (_key, _userId) = (created.Key, created.User.Id);
    }

    public async Task DisposeAsync()
    {
        _channel?.Dispose();
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        await _upstream.DisposeAsync();
        await _greeter.DisposeAsync();
    }

    private Greeter.GreeterClient Client => new(_channel);

    private Metadata KeyMetadata => new() { { "x-api-key", _key } };

    [RedisFact]
    public async Task ServerStreamingCall_ClientCancelsMidStream_RecordedOnceAndRedisEqualsUnits()
    {
        // Arrange
        using var cancel = new CancellationTokenSource();
        using var call = Client.Count(new CountRequest { To = 3, Then = Then.Hold }, KeyMetadata, cancellationToken: cancel.Token);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        }

        // Act
        await cancel.CancelAsync();
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        // Assert
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        var recorded = Assert.Single(await SettledAsync());
        Assert.Equal("/apigate.tests.Greeter/Count", recorded.Path);
        Assert.Equal(9, recorded.RequestBytes);   // one frame: 5 bytes of prefix + a 4-byte message
        Assert.Equal(21, recorded.ResponseBytes); // three frames of 5 + 2 bytes, no trailers
        Assert.Equal(21, recorded.Units);
    }

    [RedisFact]
    public async Task BidirectionalCall_ClientCancelsMidStream_RecordedOnceAndRedisEqualsUnits()
    {
        // Arrange
        await LongUpstreamTimeoutAsync();
        using var cancel = new CancellationTokenSource();
        using var call = Client.Chat(KeyMetadata, cancellationToken: cancel.Token);
        for (var i = 0; i < 3; i++)
        {
            await call.RequestStream.WriteAsync(new HelloRequest { Name = "n" + i });
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal("Hello n" + i, call.ResponseStream.Current.Message);
        }

        // Act
        await cancel.CancelAsync();
        await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        // Assert
        var recorded = Assert.Single(await SettledAsync());
        Assert.Equal("/apigate.tests.Greeter/Chat", recorded.Path);
        Assert.True(recorded.Units > 1, $"units {recorded.Units}");
    }

    [RedisFact]
    public async Task BidirectionalCall_CompletedNormally_RecordedOnceAndRedisEqualsUnits()
    {
        // Arrange
        await LongUpstreamTimeoutAsync();
        using var call = Client.Chat(KeyMetadata);
        for (var i = 0; i < 3; i++)
        {
            await call.RequestStream.WriteAsync(new HelloRequest { Name = "n" + i });
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        }

        // Act
        await call.RequestStream.CompleteAsync();
        Assert.False(await call.ResponseStream.MoveNext(CancellationToken.None));

        // Assert
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        var recorded = Assert.Single(await SettledAsync());
        Assert.Equal(200, recorded.Status);
    }

    [RedisFact]
    public async Task ServerStreamingCall_UpstreamResetsMidStream_UnavailableRecordedOnceAndRedisEqualsUnits()
    {
        // Arrange
        using var call = Client.Count(new CountRequest { To = 3, Then = Then.Reset }, KeyMetadata);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        }

        // Act
        _greeter.ResetStreams();
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        // Assert
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Single(await SettledAsync());
    }

    [RedisFact]
    public async Task ServerStreamingCall_CutByTheRouteTimeout_DeadlineExceededRecordedOnceAndRedisEqualsUnits()
    {
        // Arrange: the service holds the stream and ignores its deadline; the upstream's 1 s bound cuts it.
        using var call = Client.Count(new CountRequest { To = 3, Then = Then.Hold },
            new Metadata { { "x-api-key", _key }, { GreeterUpstream.IgnoreDeadlineHeader, "1" } });
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        }

        // Act
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        // Assert
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Single(await SettledAsync());
    }

    [RedisFact]
    public async Task ServerStreamingCall_ClientDeadlineShorterThanTheRouteTimeout_DeadlineExceededRecordedOnce()
    {
        // Arrange: a first call warms the way up; then the client allows 500 ms of the route's 1 s, and the service enforces
        // the deadline it is told.
        Assert.Equal("Hello warm", (await Client.SayHelloAsync(new HelloRequest { Name = "warm" }, KeyMetadata)).Message);
        using var call = Client.Count(new CountRequest { To = 2, Then = Then.Hold }, KeyMetadata, deadline: DateTime.UtcNow.AddMilliseconds(500));

        // Act
        var values = new List<int>();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var reply in call.ResponseStream.ReadAllAsync())
            {
                values.Add(reply.Value);
            }
        });

        // Assert
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.True(values.Count == 2, $"{error.Status} {string.Join(",", _greeter.Calls)}");
        Assert.Equal(2, (await SettledAsync(expected: 2)).Count);
    }

    [RedisFact]
    public async Task ServerStreamingCall_UpstreamFailsAfterMessages_StatusDetailAndTrailerPassThrough()
    {
        // Arrange
        using var call = Client.Count(new CountRequest { To = 2, Then = Then.Fail }, KeyMetadata);

        // Act
        var values = new List<int>();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var reply in call.ResponseStream.ReadAllAsync())
            {
                values.Add(reply.Value);
            }
        });

        // Assert
        Assert.Equal([1, 2], values);
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal(GreeterService.FailDetail, error.Status.Detail);
        Assert.Equal("counted too far", error.Trailers.GetValue("x-reason"));
        var recorded = Assert.Single(await SettledAsync());
        Assert.Equal(200, recorded.Status);
    }

    [RedisFact]
    public async Task EventStream_ClientAbortsAfterTheFirstEvent_RecordedOnceAndRedisEqualsUnits()
    {
        // Arrange
        using var request = new HttpRequestMessage(HttpMethod.Get, _gateway.Url + "/feed/endless-sse");
        request.Headers.Add("X-API-Key", _key);

        // Act: read the first event, then hang up.
        using (var response = await _gateway.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            await using var body = await response.Content.ReadAsStreamAsync();
            var buffer = new byte[64];
            Assert.True(await body.ReadAsync(buffer) > 0);
        }

        // Assert
        var recorded = Assert.Single(await SettledAsync());
        Assert.Equal(3, recorded.Units);
    }

    [RedisFact]
    public async Task EventStream_CutByTheIdleTimeout_RecordedOnceAndRedisEqualsUnits()
    {
        // Arrange
        using var request = new HttpRequestMessage(HttpMethod.Get, _gateway.Url + "/feed/endless-sse");
        request.Headers.Add("X-API-Key", _key);
        using var response = await _gateway.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        // Act: the upstream sends one event, then nothing: the 1 s idle timeout cuts the stream.
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[256];
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            while (await body.ReadAsync(buffer, bound.Token) > 0)
            {
            }
        }
        catch (HttpIOException)
        {
        }
        catch (IOException)
        {
        }

        // Assert
        var recorded = Assert.Single(await SettledAsync());
        Assert.Equal(3, recorded.Units);
    }

    [RedisFact]
    public async Task WebSocket_ClientDropsAfterMessages_RecordedOnceAndRedisEqualsUnits()
    {
        // Arrange
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("X-API-Key", _key);
        await socket.ConnectAsync(new Uri(_gateway.Url.Replace("http://", "ws://", StringComparison.Ordinal) + "/socket/ws"), CancellationToken.None);
        await EchoTwiceAsync(socket);

        // Act
        socket.Abort();

        // Assert: four messages relayed (two each way) + 2.
        var recorded = Assert.Single(await SettledAsync());
        Assert.Equal(6, recorded.Units);
    }

    [RedisFact]
    public async Task WebSocket_CutByTheIdleTimeout_RecordedOnceAndRedisEqualsUnits()
    {
        // Arrange
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("X-API-Key", _key);
        await socket.ConnectAsync(new Uri(_gateway.Url.Replace("http://", "ws://", StringComparison.Ordinal) + "/socket/ws"), CancellationToken.None);
        var buffer = new byte[256];
        await socket.SendAsync("m"u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        await socket.ReceiveAsync(buffer, CancellationToken.None);

        // Act: nothing moves for the 1 s idle timeout.
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            while (true)
            {
                var received = await socket.ReceiveAsync(buffer, bound.Token);
                if (received.MessageType == WebSocketMessageType.Close)
                {
                    throw new WebSocketException("closed");
                }
            }
        });

        // Assert
        var recorded = Assert.Single(await SettledAsync());
        Assert.Equal(4, recorded.Units);
    }

    [RedisFact]
    public async Task UnaryCall_ClientCancelsBeforeTheAnswer_RecordedOnceAs499AndRedisEqualsUnits()
    {
        // Arrange
        using var cancel = new CancellationTokenSource();
        var call = Client.SayHelloAsync(new HelloRequest { Name = GreeterService.NeverAnswered }, KeyMetadata, cancellationToken: cancel.Token);
        for (var i = 0; i < 400 && _greeter.Calls.IsEmpty; i++)
        {
            await Task.Delay(25);
        }

        // Act
        await cancel.CancelAsync();
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseAsync);

        // Assert
        Assert.Equal(StatusCode.Cancelled, error.StatusCode);
        var recorded = Assert.Single(await SettledAsync());
        Assert.Equal(499, recorded.Status);
    }

    [RedisFact]
    public async Task BidirectionalCall_ClientCancelsBeforeAnyAnswer_RecordedOnceAs499AndRedisEqualsUnits()
    {
        // Arrange: the call is open, the service waits for the first message.
        using var cancel = new CancellationTokenSource();
        using var call = Client.Chat(KeyMetadata, cancellationToken: cancel.Token);
        for (var i = 0; i < 400 && _greeter.Calls.IsEmpty; i++)
        {
            await Task.Delay(25);
        }

        // Act
        await cancel.CancelAsync();
        await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        // Assert
        var recorded = Assert.Single(await SettledAsync());
        Assert.Equal(499, recorded.Status);
    }

    [RedisFact]
    public async Task BidirectionalCall_BothSidesIdlePastTheRouteTimeout_RecordedOnceAndRedisEqualsUnits()
    {
        // Arrange: one message each way, then the client sends nothing and the service (deadline removed) waits for it.
        using var call = Client.Chat(new Metadata { { "x-api-key", _key }, { GreeterUpstream.IgnoreDeadlineHeader, "1" } });
        await call.RequestStream.WriteAsync(new HelloRequest { Name = "one" });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));

        // Act
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        // Assert
        Assert.True(error.StatusCode == StatusCode.DeadlineExceeded, error.Status.ToString());
        var recorded = Assert.Single(await SettledAsync());
        Assert.Equal(200, recorded.Status);
    }

    [RedisFact]
    public async Task ServerStreamingCall_UpstreamFailsBeforeAnyMessage_TrailersOnlyStatusAndTrailerPassThrough()
    {
        // Arrange
        using var call = Client.Count(new CountRequest { To = 0, Then = Then.Fail }, KeyMetadata);

        // Act
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        // Assert
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal(GreeterService.FailDetail, error.Status.Detail);
        Assert.Equal("counted too far", error.Trailers.GetValue("x-reason"));
        Assert.Single(await SettledAsync());
    }

    [RedisFact]
    public async Task EventStream_UpstreamDropsMidStream_RecordedOnceAndRedisEqualsUnits()
    {
        // Arrange
        using var request = new HttpRequestMessage(HttpMethod.Get, _gateway.Url + "/feed/aborting-sse");
        request.Headers.Add("X-API-Key", _key);
        using var response = await _gateway.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[256];
        var read = "";
        using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        while (!read.Contains("two", StringComparison.Ordinal))
        {
            var n = await body.ReadAsync(buffer, bound.Token);
            Assert.True(n > 0, read);
            read += Encoding.UTF8.GetString(buffer, 0, n);
        }

        // Act: the upstream drops its connection.
        _upstream.SecondEventGate.TrySetResult();
        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            while (await body.ReadAsync(buffer, bound.Token) > 0)
            {
            }
        });

        // Assert
        var recorded = Assert.Single(await SettledAsync());
        Assert.Equal(4, recorded.Units);
    }

    [RedisFact]
    public async Task EventStream_OpenWhenTheGatewayStops_RecordedOnceAndRedisEqualsUnits()
    {
        // Arrange
        using var request = new HttpRequestMessage(HttpMethod.Get, _gateway.Url + "/feed/endless-sse");
        request.Headers.Add("X-API-Key", _key);
        using var response = await _gateway.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        Assert.True(await body.ReadAsync(new byte[64]) > 0);

        // Act + Assert: the stop ends the stream; it is billed as it went.
        var recorded = Assert.Single(await SettledAsync(expected: 0));
        Assert.Equal(3, recorded.Units);
    }

    [RedisFact]
    public async Task WebSocketOverHttp2_ClientDropsAfterMessages_RecordedOnceAndRedisEqualsUnits()
    {
        // Arrange: an extended CONNECT on the h2c port.
        using var handler = new SocketsHttpHandler { UseProxy = false };
        using var invoker = new HttpMessageInvoker(handler);
        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.SetRequestHeader("X-API-Key", _key);
        await socket.ConnectAsync(new Uri($"ws://{new Uri(_gateway.Addresses.ElementAt(1)).Authority}/socket/ws"), invoker, CancellationToken.None);
        await EchoTwiceAsync(socket);

        // Act
        socket.Abort();

        // Assert: four messages relayed (two each way) + 2.
        var recorded = Assert.Single(await SettledAsync());
        Assert.Equal(6, recorded.Units);
    }

    [RedisFact]
    public async Task ServerStreamingCall_OpenWhenTheGatewayStops_CutAfterTheShutdownTimeoutRecordedOnceAndRedisEqualsUnits()
    {
        // Arrange: a call the service holds open (its deadline removed), on a route whose timeout is far away.
        await _gateway.AddUpstreamAsync("grpc-long", _greeter.Url, new UpstreamInput { HttpVersion = "2", Timeout = "5m" });
        await _gateway.AddRouteAsync(new RouteInput
        {
            Name = "greeter-long", Path = "/apigate.tests.Greeter/Count", Upstream = "grpc-long", Methods = "POST", AuthRequired = true,
            MeteringMode = "custom", MeteringExpr = "responseBytes",
        });
        using var call = Client.Count(new CountRequest { To = 3, Then = Then.Hold },
            new Metadata { { "x-api-key", _key }, { GreeterUpstream.IgnoreDeadlineHeader, "1" } });
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        }

        // Act + Assert: the stop waits its 1 s for the call, then cuts it; it is billed as it went.
        var recorded = Assert.Single(await SettledAsync(expected: 0));
        Assert.True(recorded.Units > 1, $"units {recorded.Units}");
    }

    [RedisFact]
    public async Task BidirectionalCall_UpstreamResetsMidStream_UnavailableRecordedOnceAndRedisEqualsUnits()
    {
        // Arrange
        await LongUpstreamTimeoutAsync();
        using var call = Client.Chat(KeyMetadata);
        await call.RequestStream.WriteAsync(new HelloRequest { Name = "Ada" });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
        await call.RequestStream.WriteAsync(new HelloRequest { Name = GreeterService.ResetName });

        // Act
        _greeter.ResetStreams();
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        // Assert: the call fails with UNAVAILABLE in trailers and is settled once
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        var recorded = Assert.Single(await SettledAsync());
        Assert.Equal(200, recorded.Status);
    }

    /// <summary>
    /// The gRPC upstream's timeout raised from 1 s (which the timeout tests need) to 60 s, for a call that waits on
    /// several round trips: on a loaded machine a second between two of the client's messages ended the call with
    /// DEADLINE_EXCEEDED ("the request body arrived too slowly") instead of the outcome the test is about.
    /// </summary>
    private async Task LongUpstreamTimeoutAsync()
    {
        var updated = await _gateway.CliAsync("upstreams", "update", "grpc", "--timeout", "60s");
        Assert.True(updated.ExitCode == 0, updated.Diagnostics);
        await _gateway.ReloadAsync();
    }

    /// <summary>Sends two text messages on <paramref name="socket"/>, reading each echo.</summary>
    private static async Task EchoTwiceAsync(ClientWebSocket socket)
    {
        var buffer = new byte[256];
        for (var i = 0; i < 2; i++)
        {
            await socket.SendAsync(Encoding.UTF8.GetBytes("m" + i), WebSocketMessageType.Text, true, CancellationToken.None);
            await socket.ReceiveAsync(buffer, CancellationToken.None);
        }
    }

    /// <summary>
    /// Stops the gateway (which writes every queued usage event), waits for the Redis counter to reach the stored units,
    /// and checks stored quota == Redis counter == the sum of the recorded events' units. Returns the events.
    /// </summary>
    private async Task<IReadOnlyList<UsageEvent>> SettledAsync(int expected = 1)
    {
        var quotaKey = _gateway.Service<RedisAdmission>().QuotaKey(_userId, QuotaPeriod.StartOf(DateTimeOffset.UtcNow));
        // The exchange is over for the client; wait (bounded) until the gateway has recorded it, then stop it.
        var recorder = _gateway.Service<ApiGate.Gateway.Usage.UsageRecorder>();
        for (var i = 0; i < 400 && recorder.Written < expected; i++)
        {
            await Task.Delay(25);
        }

        await _gateway.StopAsync();
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(_gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        var events = await store.GetRecentUsageAsync(_userId, 10, CancellationToken.None);
        var stored = (await store.LoadQuotaUsageAsync(QuotaPeriod.StartOf(DateTimeOffset.UtcNow), CancellationToken.None)).Where(u => u.UserId == _userId).Sum(u => u.Used);
        var units = events.Sum(e => e.Units);
        long counter = -1;
        for (var i = 0; i < 200; i++) // bounded: 10 s for the settle script, which nothing waits for
        {
            var reply = await _redis!.CommandAsync("GET", quotaKey);
            counter = reply.StartsWith("$-1", StringComparison.Ordinal) ? 0 : long.Parse(reply.Split("\r\n")[1], System.Globalization.CultureInfo.InvariantCulture);
            if (counter == units)
            {
                break;
            }

            await Task.Delay(50);
        }

        Assert.Equal(units, stored);
        Assert.Equal(units, counter);
        return events;
    }
}
