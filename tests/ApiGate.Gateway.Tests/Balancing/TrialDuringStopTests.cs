using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.Hosting;

namespace ApiGate.Gateway.Tests.Balancing;

/// <summary>
/// A stream refused because the stop has begun (<c>503 stopping</c>) takes no target: the trial an ejected target is
/// offered after its cool-down stays for the next request, which the server still serves until it closes. Taken by the
/// refused stream, the trial was never settled, and the upstream's other requests were answered
/// <c>503 upstream_unavailable</c> for the rest of the drain.
/// </summary>
public sealed class TrialDuringStopTests
{
    [Fact]
    public async Task StopBegun_StreamRefusedWhileATrialIsDue_TrialLeftForTheNextRequest()
    {
        // Arrange: one target, ejected by one failure, its cool-down over
        await using var upstream = await TestUpstream.StartAsync();
        await using var gateway = await TestGateway.StartAsync(o => o.ShutdownTimeout = TimeSpan.FromMinutes(2));
        await gateway.AddUpstreamAsync("backend", upstream.Url,
            new UpstreamInput { HealthCheck = new HealthCheckInput { PassiveFailures = 1, PassiveCooldown = "1s" } });
        await gateway.AddRouteAsync(new RouteInput { Name = "events", Path = "/events/*", Upstream = "backend", Protocol = "sse" }, reload: false);
        await gateway.AddRouteAsync(new RouteInput { Name = "plain", Path = "/plain/*", Upstream = "backend" });
        using var client = TestGateway.CreateClient();
        using var failed = await client.GetAsync(gateway.Url + "/plain/status?code=500");
        Assert.Equal(HttpStatusCode.InternalServerError, failed.StatusCode);
        var registry = gateway.Service<TargetRegistry>();
        await Poll.UntilAsync(() => registry.Statuses().Single().Health == TargetHealth.Ejected, () => "the failure did not eject the target"); // recorded as the exchange ends
        await Task.Delay(TimeSpan.FromMilliseconds(1200)); // the cool-down ends

        // Act: the stop begins; a stream is refused, then an ordinary request comes
        gateway.Service<IHostApplicationLifetime>().StopApplication();
        using var stream = await client.GetAsync(gateway.Url + "/events/sse");
        var afterRefusal = registry.Statuses().Single();
        using var next = await client.GetAsync(gateway.Url + "/plain/json");

        // Assert: the refusal took no trial; the next request was the trial, and it put the target back
        await Auth.AuthenticationTests.AssertErrorAsync(stream, HttpStatusCode.ServiceUnavailable, "stopping");
        Assert.Equal(TargetHealth.Ejected, afterRefusal.Health);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        await Poll.UntilAsync(() => registry.Statuses().Single().Health == TargetHealth.Healthy, () => "the trial did not put the target back");
        Assert.Equal(2, upstream.Received.Count); // the failure and the trial; the refused stream reached nothing
        await gateway.StopAsync();
    }
}
