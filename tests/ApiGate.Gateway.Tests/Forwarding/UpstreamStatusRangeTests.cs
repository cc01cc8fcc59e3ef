using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Forwarding;

/// <summary>
/// RFC 9110 §15: a status code outside 100–599 is invalid. An upstream that answers one gets the client a 502, not a
/// status line such as <c>HTTP/1.1 0</c> that no client can read; 599 is still passed on.
/// </summary>
public sealed class UpstreamStatusRangeTests
{
    [Theory]
    [InlineData("http", "000", 502)]
    [InlineData("http", "099", 502)]
    [InlineData("http", "600", 502)]
    [InlineData("http", "999", 502)]
    [InlineData("http", "599", 599)]
    [InlineData("http_stream", "099", 502)]
    [InlineData("http_stream", "600", 502)]
    [InlineData("http_stream", "599", 599)]
    public async Task UpstreamStatusOutside100To599_ClientGets502UpstreamError(string protocol, string status, int expected)
    {
        // Arrange
        await using var backend = await ScriptedBackend.StartAsync($"HTTP/1.1 {status} Odd\r\nContent-Length: 2\r\n\r\nok");
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", backend.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend", Protocol = protocol });

        // Act
        var response = await RawHttp.GetAsync(gateway.Url, "/r/x");

        // Assert
        Assert.Equal(expected, response.Status);
        if (expected == 502)
        {
            var error = JsonDocument.Parse(response.Body).RootElement.GetProperty("errors")[0];
            Assert.Equal(("upstream_error", $"The upstream answered with status {int.Parse(status, System.Globalization.CultureInfo.InvariantCulture)}, outside 100–599."),
                (error.GetProperty("code").GetString(), error.GetProperty("detail").GetString()));
        }
        else
        {
            Assert.Equal("ok", response.Body);
        }
    }
}
