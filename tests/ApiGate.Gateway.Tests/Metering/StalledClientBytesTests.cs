using ApiGate.Core.Management;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Metering;

/// <summary>
/// Clients that stop reading a fast stream and then go away are billed for what their connection took, not for what
/// the server dropped once they had gone.
/// </summary>
public sealed class StalledClientBytesTests : GatewayTestBase
{
    private protected override void Configure(GatewayOptions options) => options.UsageRawEvents = "all";

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "bytes", Path = "/bytes/*", Upstream = "backend", MeteringMode = "bytes" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput { Name = "stream", Path = "/stream/*", Upstream = "backend", Protocol = "http_stream", MeteringMode = "bytes" });
    }

    [Theory]
    [InlineData("/bytes", false)]
    [InlineData("/stream", false)]
    [InlineData("/bytes", true)]
    [InlineData("/bytes", false, true)]
    [InlineData("/stream", true, true)]
    public async Task ClientStopsReadingThenLeaves_ResponseBytesAreAtMostWhatItsConnectionTook(string route, bool reset, bool chunked = false)
    {
        // Arrange: clients with small receive buffers ask for 2 GB each and read only the start of the answer (with
        // chunked, an answer of no announced length, which the server sends in chunked transfer coding).
        var request = $"GET {route}/download?bytes=2000000000{(chunked ? "&chunked" : "")} HTTP/1.1\r\nHost: gw\r\n\r\n";

        // Act and Assert: once the kernel's queues to them are full the clients leave — closing with data unread, or
        // resetting — and each one's bytes are at most what it read, what the kernel held for it and the server's buffers.
        await StalledClients.StallThenVanishAsync(Gateway, clients: 5, request, "HTTP/1.1 200", reset);
    }
}
