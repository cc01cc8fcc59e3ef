using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Grpc;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Tests.Protocols.GrpcTest;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>
/// gRPC calls and the upstream's timeout on an <c>http</c> route, with the real service and client: the upstream is told
/// the time the gateway leaves it (<c>grpc-timeout</c>), and a call the gateway cuts — before its response or in the
/// middle of a stream — or that the upstream resets mid-stream ends with a gRPC status the client can read.
/// </summary>
public sealed class GrpcDeadlineTests : IAsyncLifetime
{
    private GreeterBehindGateway _grpc = null!;

    public async Task InitializeAsync()
    {
        _grpc = await GreeterBehindGateway.StartAsync(o =>
        {
            o.UsageRawEvents = "all"; // the public route's calls get raw rows, to read their recorded status back
        });
    }

    public Task DisposeAsync() => _grpc.DisposeAsync().AsTask();

    [Fact]
    public async Task ServerStreamingCall_OutlivesTheUpstreamTimeout_DeadlineExceededAfterTheMessagesSentAndUpstreamToldTheShorterTimeout()
    {
        // Arrange: a 3 s bound (room for the three messages on a loaded machine); the client allows an hour; the service
        // sends three messages, then holds the stream and (its deadline header removed) never ends it itself.
        await RouteAsync(timeout: "3s");
        var client = new Greeter.GreeterClient(_grpc.Channel);

        // Act
        using var call = client.Count(new CountRequest { To = 3, Then = Then.Hold },
            new Metadata { { GreeterUpstream.IgnoreDeadlineHeader, "1" } }, deadline: DateTime.UtcNow.AddHours(1));
        var values = new List<int>();
        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            await foreach (var reply in call.ResponseStream.ReadAllAsync())
            {
                values.Add(reply.Value);
            }
        });

        // Assert: every message sent, then the gateway's status in trailers (not a reset stream: INTERNAL or CANCELLED).
        Assert.Equal([1, 2, 3], values);
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Equal(GatewayError.UpstreamTimeout.Detail, error.Status.Detail);
        var (path, timeout) = Assert.Single(_grpc.Service.Calls);
        Assert.Equal("/apigate.tests.Greeter/Count", path);
        Assert.True(GrpcTimeout.TryParse(timeout, out var told), timeout);
        Assert.InRange(told, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(3)); // the gateway's bound, not the client's hour
    }

    [Fact]
    public async Task ServerStreamingCall_UpstreamResetsMidStream_UnavailableAfterTheMessagesSent()
    {
        // Arrange
        await RouteAsync(timeout: "5m");
        var client = new Greeter.GreeterClient(_grpc.Channel);
        using var call = client.Count(new CountRequest { To = 3, Then = Then.Reset });
        var values = new List<int>();
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            values.Add(call.ResponseStream.Current.Value);
        }

        // Act: the service resets its stream to the gateway.
        _grpc.Service.ResetStreams();
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        // Assert
        Assert.Equal([1, 2, 3], values);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Equal(GatewayError.UpstreamError.Detail, error.Status.Detail);
    }

    [Fact]
    public async Task BidirectionalCalls_UpstreamResetsEachMidStream_EveryOneEndsUnavailableInTrailers()
    {
        // Arrange: each call sends one message and reads its reply, then a message on which the service resets its
        // stream while the gateway waits for the client's next one. Which copy notices the reset first (the response's,
        // or the request body's, which the HTTP client cancels) is a race; either way it is the upstream's failure.
        await RouteAsync(timeout: "5m");
        var client = new Greeter.GreeterClient(_grpc.Channel);
        _grpc.Service.ResetStreams();
        var statuses = new Dictionary<StatusCode, int>();

        // Act: enough calls for the rarer order to come up (about 1 in 100 on this machine).
        for (var i = 0; i < 150; i++)
        {
            using var call = client.Chat();
            await call.RequestStream.WriteAsync(new HelloRequest { Name = "Ada" });
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            await call.RequestStream.WriteAsync(new HelloRequest { Name = GreeterService.ResetName });
            var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
            statuses[error.StatusCode] = statuses.GetValueOrDefault(error.StatusCode) + 1;
        }

        // Assert: never a reset read as CANCELLED, nor a client's fault
        Assert.Equal(new Dictionary<StatusCode, int> { [StatusCode.Unavailable] = 150 }, statuses);
    }

    [Fact]
    public async Task BidirectionalCall_NeitherSideSendsPastTheUpstreamTimeout_DeadlineExceededInTrailersNotAReset()
    {
        // Arrange: a 3 s bound (room for the first exchange on a loaded machine: a 1 s one ran out before it in a CI run);
        // one message each way, then the client has nothing to send (its side stays open) and the service (deadline
        // header removed) waits for it.
        await RouteAsync(timeout: "3s");
        var client = new Greeter.GreeterClient(_grpc.Channel);
        using var call = client.Chat(new Metadata { { GreeterUpstream.IgnoreDeadlineHeader, "1" } });
        await call.RequestStream.WriteAsync(new HelloRequest { Name = "Ada" });
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));

        // Act
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        await _grpc.Gateway.StopAsync();

        // Assert: the gateway's status in trailers (a reset stream reads as INTERNAL, and the client read the response
        // in time: no "read too slowly"); recorded once, as a response that started.
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Equal(ClientFaults.BodyTimeout.Detail, error.Status.Detail);
        var e = Assert.Single(await EventsAsync());
        Assert.Equal("/apigate.tests.Greeter/Chat", e.Path);
        Assert.Equal(200, e.Status);
    }

    [Fact]
    public async Task UnaryCall_UpstreamNeverAnswers_DeadlineExceededAndUsageRecords504()
    {
        // Arrange: a 1 s bound and a service that (its deadline header removed) never answers on its own.
        await RouteAsync(timeout: "1s");
        var client = new Greeter.GreeterClient(_grpc.Channel);

        // Act
        var error = await Assert.ThrowsAsync<RpcException>(() => client.SayHelloAsync(new HelloRequest { Name = GreeterService.NeverAnswered },
            new Metadata { { GreeterUpstream.IgnoreDeadlineHeader, "1" } }).ResponseAsync);
        await _grpc.Gateway.StopAsync();

        // Assert: the client reads DEADLINE_EXCEEDED from a 200 answer; the usage row holds the gateway's 504.
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        Assert.Equal(GatewayError.UpstreamTimeout.Detail, error.Status.Detail);
        var e = Assert.Single(await EventsAsync());
        Assert.Equal("/apigate.tests.Greeter/SayHello", e.Path);
        Assert.Equal(504, e.Status);
    }

    [Fact]
    public async Task UnaryCall_ClientDeadlineShorterThanTheGatewayTimeout_UpstreamGetsTheClientsDeadline()
    {
        // Arrange
        await RouteAsync(timeout: "10m");
        var client = new Greeter.GreeterClient(_grpc.Channel);

        // Act
        var reply = await client.SayHelloAsync(new HelloRequest { Name = "Ada" }, deadline: DateTime.UtcNow.AddMinutes(1)).ResponseAsync;

        // Assert: at most the client's minute, not the ten the gateway would allow.
        Assert.Equal("Hello Ada", reply.Message);
        var (_, timeout) = Assert.Single(_grpc.Service.Calls);
        Assert.True(GrpcTimeout.TryParse(timeout, out var told), timeout);
        Assert.InRange(told, TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(1));
    }

    [Fact]
    public async Task UnaryCall_WithoutDeadline_UpstreamGetsTheGatewayTimeout()
    {
        // Arrange
        await RouteAsync(timeout: "10m");
        var client = new Greeter.GreeterClient(_grpc.Channel);

        // Act
        var reply = await client.SayHelloAsync(new HelloRequest { Name = "Ada" }).ResponseAsync;

        // Assert: the client sent no grpc-timeout; the gateway added what is left of its ten minutes.
        Assert.Equal("Hello Ada", reply.Message);
        var (_, timeout) = Assert.Single(_grpc.Service.Calls);
        Assert.True(GrpcTimeout.TryParse(timeout, out var told), timeout);
        Assert.InRange(told, TimeSpan.FromMilliseconds(1), TimeSpan.FromMinutes(10));
    }

    [Fact]
    public async Task UnaryCall_RetriedOnAnotherTarget_UpstreamGetsTheClientsDeadlineLessTheTimeSpent()
    {
        // Arrange: the first target refuses connections, so every call is retried on the service (first_healthy, no
        // ejection); the client's deadline is a round 30 s, sent as it is on the wire.
        var created = await _grpc.Gateway.Upstreams.CreateAsync(new UpstreamInput
        {
            Name = "grpc", HttpVersion = "2", Timeout = "10m", LbPolicy = "first_healthy",
            Targets = [new TargetInput { Url = $"http://127.0.0.1:{LoopbackPorts.Closed()}" }, new TargetInput { Url = _grpc.Service.Url }],
            HealthCheck = new HealthCheckInput { PassiveFailures = 0 },
        }.Parsed(), CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        await _grpc.Gateway.AddRouteAsync(new RouteInput { Name = "greeter", Path = "/apigate.tests.Greeter/*", Upstream = "grpc", Methods = "POST" });
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        var message = new HelloRequest { Name = "Ada" }.ToByteArray();
        var frame = new byte[5 + message.Length];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(1), message.Length);
        message.CopyTo(frame, 5);
        using var request = new HttpRequestMessage(HttpMethod.Post, _grpc.Gateway.Addresses.ElementAt(1) + "/apigate.tests.Greeter/SayHello")
        {
            Version = System.Net.HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact, Content = new ByteArrayContent(frame),
        };
        request.Content.Headers.ContentType = new("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        request.Headers.TryAddWithoutValidation("grpc-timeout", "30S");

        // Act
        using var response = await http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();

        // Assert: answered by the service; it was told less than the client's 30 s (the failed attempt took some of them),
        // not the client's value unchanged.
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("0", string.Join(",", response.TrailingHeaders.GetValues("grpc-status")));
        var (_, timeout) = Assert.Single(_grpc.Service.Calls);
        Assert.NotEqual("30S", timeout);
        Assert.True(GrpcTimeout.TryParse(timeout, out var told), timeout);
        Assert.InRange(told, TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(29_999));
    }

    private async Task RouteAsync(string timeout)
    {
        await _grpc.Gateway.AddUpstreamAsync("grpc", _grpc.Service.Url, new UpstreamInput { HttpVersion = "2", Timeout = timeout });
        await _grpc.Gateway.AddRouteAsync(new RouteInput { Name = "greeter", Path = "/apigate.tests.Greeter/*", Upstream = "grpc", Methods = "POST" });
    }

    private async Task<IReadOnlyList<UsageEvent>> EventsAsync()
    {
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(_grpc.Gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        return await store.GetRecentUsageAsync(UsageEvent.Anonymous, 10, CancellationToken.None);
    }
}
