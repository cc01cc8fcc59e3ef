using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Errors;
using ApiGate.Gateway.Identity;
using ApiGate.Gateway.Observability;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Tests.Observability;
using ApiGate.Gateway.Tests.Protocols.GrpcTest;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>
/// The gateway's own refusals of a gRPC call, read by the real <c>Grpc.Net.Client</c> client through the h2c port: a
/// gRPC status (trailers-only, HTTP 200) instead of an HTTP status the client would map itself, while the access log and
/// metrics still record the gateway's status. Telemetry collection: the scrape counts every gateway in the process.
/// </summary>
[Collection(TelemetryCollection.Name)]
public sealed class GrpcGatewayErrorTests : IAsyncLifetime
{
    private const string Route = "greeter-private";
    private readonly CapturedLog _log = new();
    private GreeterBehindGateway _grpc = null!;

    public async Task InitializeAsync()
    {
        _grpc = await GreeterBehindGateway.StartAsync(o =>
        {
            o.RateLimitBurst = 0;
            _log.TakeJsonFrom(o); // the access log is written at information level
        });
        await _grpc.Gateway.AddUpstreamAsync("grpc", _grpc.Service.Url, new UpstreamInput { HttpVersion = "2" });
        await _grpc.Gateway.AddRouteAsync(new RouteInput { Name = Route, Path = "/apigate.tests.Greeter/*", Upstream = "grpc", Methods = "POST", AuthRequired = true });
    }

    public Task DisposeAsync() => _grpc.DisposeAsync().AsTask();

    [Fact]
    public async Task UnaryCall_WithoutKey_UnauthenticatedAndRecordedAs401()
    {
        // Arrange
        var client = new Greeter.GreeterClient(_grpc.Channel);

        // Act
        var error = await Assert.ThrowsAsync<RpcException>(
            () => client.SayHelloAsync(new HelloRequest { Name = "Ada" }, new Metadata { { "x-request-id", "grpc-no-key" } }).ResponseAsync);
        var metrics = await PrometheusText.ScrapeAfterAsync(_grpc.Gateway.Client, _grpc.Gateway.Url + "/metrics", requests: 1, ("route", Route));
        await _grpc.Gateway.StopAsync();

        // Assert: the gRPC status and the gateway's detail, the request id kept; nothing forwarded; 401 recorded.
        Assert.Equal(StatusCode.Unauthenticated, error.StatusCode);
        Assert.Equal(ApiKeyAuthenticator.Errors.Missing.Detail, error.Status.Detail);
        Assert.Equal("grpc-no-key", error.Trailers.GetValue("x-request-id"));
        Assert.Empty(_grpc.Service.Calls);
        Assert.Equal(1, metrics.Sum("apigate_requests_total", ("route", Route), ("status_class", "4xx")));
        Assert.Equal(0, metrics.Sum("apigate_requests_total", ("route", Route), ("status_class", "2xx")));
        Assert.Equal(1, metrics.Sum("apigate_auth_failures_total", ("code", "missing_api_key")));
        var line = Assert.Single(AccessLogTests.AccessLines(_log.Text), a => a.GetProperty("RequestId").GetString() == "grpc-no-key");
        Assert.Equal(401, line.GetProperty("Status").GetInt32());
        Assert.Equal("missing_api_key", line.GetProperty("Error").GetString());
        Assert.Equal(Route, line.GetProperty("Route").GetString());
    }

    [Fact]
    public async Task UnaryCall_OverTheRateLimit_ResourceExhaustedWithLimitHeadersAndRecordedAs429()
    {
        // Arrange: one call a minute and no burst, so the second call of the key is over the limit.
        var (key, _, _) = await _grpc.Gateway.CreateKeyAsync("grpc-limited@example.com", new PlanInput { Id = "one-per-minute", Name = "One", RateLimitPerMinute = 1 });
        var client = new Greeter.GreeterClient(_grpc.Channel);
        var metadata = new Metadata { { "x-api-key", key } };
        var first = await client.SayHelloAsync(new HelloRequest { Name = "Ada" }, metadata).ResponseAsync;

        // Act
        var error = await Assert.ThrowsAsync<RpcException>(
            () => client.SayHelloAsync(new HelloRequest { Name = "Ada" }, new Metadata { { "x-api-key", key }, { "x-request-id", "grpc-limited" } }).ResponseAsync);
        var metrics = await PrometheusText.ScrapeAfterAsync(_grpc.Gateway.Client, _grpc.Gateway.Url + "/metrics", requests: 2, ("route", Route));
        await _grpc.Gateway.StopAsync();

        // Assert: RESOURCE_EXHAUSTED (not the UNAVAILABLE a client makes of a plain 429, which it retries at once) with
        // the limit headers a 429 carries; one call reached the service; 429 recorded.
        Assert.Equal("Hello Ada", first.Message);
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
        Assert.StartsWith("Rate limit exceeded. Retry after ", error.Status.Detail, StringComparison.Ordinal);
        Assert.True(int.Parse(error.Trailers.GetValue("retry-after")!, System.Globalization.CultureInfo.InvariantCulture) >= 1);
        Assert.Equal("1", error.Trailers.GetValue("x-ratelimit-limit"));
        Assert.Equal("0", error.Trailers.GetValue("x-ratelimit-remaining"));
        Assert.Single(_grpc.Service.Calls);
        Assert.Equal(1, metrics.Sum("apigate_requests_total", ("route", Route), ("status_class", "4xx")));
        Assert.Equal(1, metrics.Sum("apigate_requests_total", ("route", Route), ("status_class", "2xx")));
        Assert.Equal(1, metrics.Sum("apigate_rate_limit_rejections_total", ("route", Route)));
        var line = Assert.Single(AccessLogTests.AccessLines(_log.Text), a => a.GetProperty("RequestId").GetString() == "grpc-limited");
        Assert.Equal(429, line.GetProperty("Status").GetInt32());
        Assert.Equal("rate_limit_exceeded", line.GetProperty("Error").GetString());
    }

    [Fact]
    public async Task UnaryCall_ServiceWithoutRoute_UnimplementedAndRecordedAs404()
    {
        // Arrange: a method of a service no route serves.
        var method = new Method<HelloRequest, HelloReply>(MethodType.Unary, "apigate.tests.Elsewhere", "SayHello",
            Marshallers.Create(m => m.ToByteArray(), HelloRequest.Parser.ParseFrom), Marshallers.Create(m => m.ToByteArray(), HelloReply.Parser.ParseFrom));

        // Act
        var error = await Assert.ThrowsAsync<RpcException>(() => _grpc.Channel.CreateCallInvoker()
            .AsyncUnaryCall(method, null, new CallOptions(new Metadata { { "x-request-id", "grpc-no-route" } }), new HelloRequest { Name = "Ada" }).ResponseAsync);
        var metrics = await PrometheusText.ScrapeAfterAsync(_grpc.Gateway.Client, _grpc.Gateway.Url + "/metrics", requests: 1, ("route", ""), ("method", "POST"));
        await _grpc.Gateway.StopAsync();

        // Assert
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        Assert.Equal(GatewayError.RouteNotFound.Detail, error.Status.Detail);
        Assert.Empty(_grpc.Service.Calls);
        Assert.Equal(1, metrics.Sum("apigate_requests_total", ("route", ""), ("method", "POST"), ("status_class", "4xx")));
        var line = Assert.Single(AccessLogTests.AccessLines(_log.Text), a => a.GetProperty("RequestId").GetString() == "grpc-no-route");
        Assert.Equal(404, line.GetProperty("Status").GetInt32());
        Assert.Equal("route_not_found", line.GetProperty("Error").GetString());
        Assert.Equal("/apigate.tests.Elsewhere/SayHello", line.GetProperty("Path").GetString());
    }

    [Theory]
    [InlineData("1.1", "application/grpc")] // no gRPC client speaks HTTP/1.x
    [InlineData("2", "application/json")]
    [InlineData("2", "application/grpc-web+proto")] // gRPC-Web clients read the HTTP status
    [InlineData("2", null)]
    public async Task RequestThatIsNoGrpcCall_NoRoute_StillTheJsonDocument(string version, string? contentType)
    {
        // Arrange
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var request = new HttpRequestMessage(HttpMethod.Post, (version == "2" ? _grpc.Gateway.Addresses.ElementAt(1) : _grpc.Gateway.Url) + "/nowhere")
        {
            Version = version == "2" ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
        };
        if (contentType is not null)
        {
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        }

        // Act
        using var response = await client.SendAsync(request);

        // Assert
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(GatewayErrorWriter.ContentType, response.Content.Headers.ContentType?.MediaType);
        Assert.False(response.Headers.Contains("grpc-status"));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("route_not_found", body.RootElement.GetProperty("errors")[0].GetProperty("code").GetString());
    }
}
