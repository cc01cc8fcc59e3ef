using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Forwarding;

/// <summary>
/// The gateway's quota headers are one set: for an unlimited plan it answers <c>X-Quota-Used</c> and <c>X-Quota-Reset</c>
/// and no <c>X-Quota-Limit</c> or <c>X-Quota-Remaining</c> (docs/keys-and-limits.md) — an upstream's own
/// <c>X-Quota-Limit</c> and <c>X-Quota-Remaining</c> must not fill the gap, or the client reads a limit of the upstream's
/// beside the gateway's count (<c>X-Quota-Limit: 100</c>, <c>X-Quota-Remaining: 0</c> next to the gateway's
/// <c>X-Quota-Used</c>) as if its quota here were spent.
/// </summary>
public sealed class UpstreamLimitHeadersTests
{
    [Fact]
    public async Task UnlimitedQuotaPlan_UpstreamSendsQuotaLimitAndRemaining_ClientGetsOnlyTheGatewaysQuotaHeaders()
    {
        // Arrange
        await using var backend = await ScriptedBackend.StartAsync(
            "HTTP/1.1 200 OK\r\nX-Quota-Limit: 100\r\nX-Quota-Remaining: 0\r\nX-Quota-Used: 100\r\nX-Backend: kept\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
            thenClose: true);
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", backend.Url);
        await gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend", AuthRequired = true });
        var (key, _, _) = await gateway.CreateKeyAsync("unlimited@example.com", new PlanInput { Id = "open", Name = "Open", RequestsPerMonth = 0 });

        // Act
        var response = await RawHttp.GetAsync(gateway.Url, "/r/x", "Authorization: Bearer " + key);

        // Assert: the gateway's count of this month's units, no limit of the upstream's beside it
        Assert.Equal((200, "ok"), (response.Status, response.Body));
        Assert.Equal("1", response.Headers["X-Quota-Used"]);
        Assert.True(response.Headers.ContainsKey("X-Quota-Reset"));
        Assert.False(response.Headers.ContainsKey("X-Quota-Limit"));
        Assert.False(response.Headers.ContainsKey("X-Quota-Remaining"));
        Assert.Equal("kept", response.Headers["X-Backend"]);
    }
}
