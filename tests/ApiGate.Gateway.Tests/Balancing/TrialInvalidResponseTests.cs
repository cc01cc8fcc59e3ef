using ApiGate.Core.Management;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Balancing;

/// <summary>
/// The trial request of an ejected target decides its health when the response headers arrive (docs/load-balancing.md);
/// a response the gateway refuses as invalid (a <c>Content-Length</c> that is no number, a transfer coding other than
/// <c>chunked</c>, an unasked <c>101</c>) is answered <c>502 upstream_error</c> and counts as the target failing, so its
/// trial fails too: the target stays out for another cool-down instead of being put back in service by a status line
/// that said <c>200</c>.
/// </summary>
public sealed class TrialInvalidResponseTests
{
    [Theory]
    [InlineData("Content-Length: abc")]
    [InlineData("Transfer-Encoding: gzip, chunked")]
    public async Task TrialAnsweredWithAnInvalidResponse_TrialFails_TargetEjectedAgain(string framing)
    {
        // Arrange: one target that answers 200 with a response the gateway refuses; ejected after two failures in a row
        await using var backend = await ScriptedBackend.StartAsync(
            $"HTTP/1.1 200 OK\r\n{framing}\r\nConnection: close\r\n\r\n0\r\n\r\n", thenClose: true);
        await using var gateway = await TestGateway.StartAsync();
        await gateway.AddUpstreamAsync("backend", backend.Url,
            new UpstreamInput { HealthCheck = new HealthCheckInput { PassiveFailures = 2, PassiveCooldown = "1s" } });
        await gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend" });
        for (var i = 0; i < 2; i++)
        {
            var failed = await RawHttp.GetAsync(gateway.Url, "/r/x");
            Assert.Equal((502, "upstream_error"), (failed.Status, failed.ErrorCode));
        }

        var registry = gateway.Service<TargetRegistry>();
        Assert.Equal(TargetHealth.Ejected, registry.Statuses().Single().Health);
        await Task.Delay(TimeSpan.FromMilliseconds(1200)); // the cool-down ends

        // Act: the trial, then one more request
        var trial = await RawHttp.GetAsync(gateway.Url, "/r/x");
        var afterTrial = registry.Statuses().Single();
        var next = await RawHttp.GetAsync(gateway.Url, "/r/x");

        // Assert: the trial failed and the target is out again; the next request is not sent to it
        Assert.Equal((502, "upstream_error"), (trial.Status, trial.ErrorCode));
        Assert.Equal(TargetHealth.Ejected, afterTrial.Health);
        Assert.StartsWith("trial request failed", afterTrial.Reason, StringComparison.Ordinal);
        Assert.Equal((503, "upstream_unavailable"), (next.Status, next.ErrorCode));
        Assert.Equal(3, backend.Connections);
    }
}
