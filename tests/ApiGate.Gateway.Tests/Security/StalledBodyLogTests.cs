using System.Text;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Security;

/// <summary>
/// A client whose upload stalls on a kept-alive connection gets <c>408 request_timeout</c> with <c>Connection: close</c>,
/// and nothing is logged as an error: the server would otherwise try to drain a body whose cancelled read left it
/// unusable and log that at Error level with a stack trace — one error line per stalled upload, for anyone to send.
/// </summary>
public sealed class StalledBodyLogTests : IAsyncLifetime
{
    private readonly RecordingLoggerProvider _logs = new();
    private TestUpstream _upstream = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _upstream = await TestUpstream.StartAsync();
        _gateway = await TestGateway.StartAsync(services: services => services.AddSingleton<ILoggerProvider>(_logs));
        await _gateway.AddUpstreamAsync("backend", _upstream.Url, new UpstreamInput { Timeout = "1s" });
        await _gateway.AddRouteAsync(new RouteInput { Name = "plain", Path = "/plain/*", Upstream = "backend" }, reload: false);
        await _gateway.AddRouteAsync(new RouteInput { Name = "stream", Path = "/stream/*", Upstream = "backend", Protocol = "http_stream" });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Theory]
    [InlineData("/plain/upload")]
    [InlineData("/stream/upload")]
    public async Task UploadThatStalls_OnAKeptAliveConnection_408ConnectionCloseAndNothingLoggedAsAnError(string path)
    {
        // Act: 10 of the 100 promised bytes, and the connection left open for more requests.
        var response = await RawHttp.SendAsync(_gateway.Url, Encoding.ASCII.GetBytes(
            $"POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\n0123456789"));

        // Assert: RawHttp reads until the server closes, so the answer arriving at all means the connection was closed.
        Assert.Equal(408, response.Status);
        Assert.Equal("request_timeout", response.ErrorCode);
        Assert.Equal("close", response.Headers["Connection"]);
        await _gateway.StopAsync(); // every log line of the exchange is written by now
        Assert.Empty(_logs.Entries.Where(e => e.Level >= LogLevel.Error).Select(e => $"{e.Category} {e.EventId}: {e.Message}"));
    }
}
