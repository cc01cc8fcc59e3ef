using ApiGate.Core.Management;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Tests.Protocols.GrpcTest;
using Grpc.Core;
using Grpc.Net.Client;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>
/// gRPC through a plain <c>http</c> route to an upstream with <c>http_version</c> 2: a real ASP.NET Core gRPC service
/// on loopback (HTTP/2 only, cleartext), a real gRPC client speaking prior-knowledge h2c to the gateway's h2c port
/// (<c>APIGATE_SERVER_H2C_PORT</c>; the main port answers the HTTP/2 preface with HTTP_1_1_REQUIRED).
/// </summary>
public sealed class GrpcPassThroughTests : IAsyncLifetime
{
    private GreeterBehindGateway _grpc = null!;

    public async Task InitializeAsync()
    {
        _grpc = await GreeterBehindGateway.StartAsync(o =>
        {
            o.UsageRawEvents = "all"; // a raw row for the public route's request, to read its recorded units back
        });
        await _grpc.Gateway.AddUpstreamAsync("grpc", _grpc.Service.Url, new UpstreamInput { HttpVersion = "2" });
        await _grpc.Gateway.AddRouteAsync(new RouteInput { Name = "greeter", Path = "/apigate.tests.Greeter/*", Upstream = "grpc", Methods = "POST" });
    }

    public Task DisposeAsync() => _grpc.DisposeAsync().AsTask();

    [Fact]
    public async Task UnaryCall_ThroughHttpRoute_ReplyTrailersAndUsageEvent()
    {
        var client = new Greeter.GreeterClient(_grpc.Channel);

        using var call = client.SayHelloAsync(new HelloRequest { Name = "Ada" });
        var reply = await call.ResponseAsync;
        var trailers = call.GetTrailers();
        await _grpc.Gateway.StopAsync();

        Assert.Equal("Hello Ada", reply.Message);
        Assert.Equal("HTTP/2", reply.Protocol); // gateway → service
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal("Ada", trailers.GetValue("x-greeted"));
        var e = Assert.Single(await EventsAsync());
        Assert.Equal("POST", e.Method);
        Assert.Equal("/apigate.tests.Greeter/SayHello", e.Path);
        Assert.Equal(200, e.Status);
        Assert.Equal(1, e.Units);
        Assert.True(e.RequestBytes > 0);
        Assert.True(e.ResponseBytes > 0);
    }

    [Fact]
    public async Task ServerStreamingCall_ThroughHttpRoute_EveryMessageArrivesInOrder()
    {
        var client = new Greeter.GreeterClient(_grpc.Channel);

        using var call = client.Count(new CountRequest { To = 25 });
        var values = new List<int>();
        await foreach (var reply in call.ResponseStream.ReadAllAsync())
        {
            values.Add(reply.Value);
        }

        Assert.Equal(Enumerable.Range(1, 25), values);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task UnaryCall_ToTheMainPort_RefusedWithHttp11Required()
    {
        using var mainPort = GrpcChannel.ForAddress(_grpc.Gateway.Url, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { UseProxy = false } });
        var client = new Greeter.GreeterClient(mainPort);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.SayHelloAsync(new HelloRequest { Name = "Ada" }).ResponseAsync);

        // Kestrel answers the HTTP/2 preface on an HTTP/1.1 port with GOAWAY(HTTP_1_1_REQUIRED) and closes; the client
        // reports that code, or (when the close wins the race) the failed send. Either way the call never starts.
        Assert.Equal(StatusCode.Internal, error.StatusCode);
        Assert.StartsWith("Error starting gRPC call", error.Status.Detail, StringComparison.Ordinal);
        Assert.True(error.Status.Detail.Contains("HTTP_1_1_REQUIRED", StringComparison.Ordinal) || error.Status.DebugException is HttpRequestException,
            error.Status.Detail);
    }

    [Fact]
    public async Task UnaryCall_ServiceReturnsError_StatusAndDetailReachClient()
    {
        var client = new Greeter.GreeterClient(_grpc.Channel);

        var error = await Assert.ThrowsAsync<RpcException>(() => client.SayHelloAsync(new HelloRequest { Name = GreeterService.Unknown }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal("no such person: " + GreeterService.Unknown, error.Status.Detail);
    }

    [Fact]
    public async Task UnaryCall_RouteWithFieldHidingResponseTransform_GrpcPlusJsonBodyPassesUnchanged()
    {
        // Arrange: a route that removes a field from JSON responses, and an answer labelled application/grpc+json —
        // length-prefixed frames, which no JSON transform may read as a document (it would withhold the answer).
        var hiding = await _grpc.Gateway.AddRouteAsync(new RouteInput
        {
            Name = "greeter-hidden", Path = "/apigate.tests.Greeter/*", Upstream = "grpc", Methods = "POST", Priority = 10,
            ResponseTransform = """{"body":{"remove":["message"]}}""",
        });
        var client = new Greeter.GreeterClient(_grpc.Channel);

        // Act
        using var call = client.SayHelloAsync(new HelloRequest { Name = GreeterService.LabelledJson });
        var reply = await call.ResponseAsync;
        await _grpc.Gateway.StopAsync();

        // Assert: the reply and its trailers as the service sent them, through the transform's route.
        Assert.Equal("Hello " + GreeterService.LabelledJson, reply.Message);
        Assert.Equal("HTTP/2", reply.Protocol);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.Equal(GreeterService.LabelledJson, call.GetTrailers().GetValue("x-greeted"));
        var e = Assert.Single(await EventsAsync());
        Assert.Equal(hiding.Id, e.RouteId);
        Assert.Equal(200, e.Status);
    }

    private async Task<IReadOnlyList<UsageEvent>> EventsAsync()
    {
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(_grpc.Gateway.DatabasePath, new ApiGate.Storage.Secrets.SecretProtector(null));
        return await store.GetRecentUsageAsync(UsageEvent.Anonymous, 10, CancellationToken.None);
    }
}
