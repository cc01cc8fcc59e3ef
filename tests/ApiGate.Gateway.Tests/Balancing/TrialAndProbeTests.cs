using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Balancing;

/// <summary>End to end on loopback: a long trial request does not hold its target out of service; probes do not queue behind traffic.</summary>
public sealed class TrialAndProbeTests : BalancingTestBase
{
    [Fact]
    public async Task IntervalShortened_NextProbeFollowsTheNewInterval()
    {
        // Arrange: probes once an hour; the first one has run. The timeout is generous: a healthy target's first probe
        // in a test process still compiling its code must not count as a failure (500 ms did, now and then).
        await CreateAsync("interval", "round_robin", new UpstreamInput
        {
            HealthCheck = new HealthCheckInput { Path = "/healthz", Interval = "1h", Timeout = "5s", UnhealthyThreshold = 1 },
        }, [new TargetInput { Url = Url(0) }, new TargetInput { Url = Url(1) }]);
        Assert.True(await EventuallyAsync(() => Backend(0).Received.Any(r => r.Path == "/healthz"), TimeSpan.FromSeconds(10)), "no first probe");
        Backend(0).Healthy = false;

        // Act: the interval becomes 1 s
        var updated = await Gateway.Upstreams.UpdateAsync("interval", new UpstreamChanges { HealthCheck = new HealthCheckChanges { Interval = TimeSpan.FromSeconds(1) } },
            CancellationToken.None);
        Assert.True(updated.Ok, updated.Error?.ToString());
        await Gateway.ReloadAsync();

        // Assert: the target is probed again on the new schedule (not an hour after the last probe) and taken out
        Assert.True(await EventuallyAsync(() => States("interval").Single(s => s.Url == Url(0)).Health == TargetHealth.Unhealthy, TimeSpan.FromSeconds(15)),
            "the failing target was not probed again after the interval was shortened");
        Assert.Equal(TargetHealth.Healthy, States("interval").Single(s => s.Url == Url(1)).Health);
    }

    [Fact]
    public async Task NoUpstreamChecksItsTargets_ProberSleepsUntilTheConfigChanges_ThenAHealthCheckAddedProbesAtOnce()
    {
        // Arrange: one upstream, no health-check path
        await CreateAsync("quiet", "round_robin", targets: [new TargetInput { Url = Url(0) }]);
        await Gateway.ReloadAsync();
        var prober = Gateway.Service<ApiGate.Gateway.Probing.HealthProber>();
        Assert.True(await EventuallyAsync(() => prober.Idle, TimeSpan.FromSeconds(10)), "the prober kept looking with nothing to probe");

        // Act: the upstream gets a health check; the reload publishes a snapshot that has one
        var updated = await Gateway.Upstreams.UpdateAsync("quiet", new UpstreamChanges { HealthCheck = new HealthCheckChanges { Path = "/healthz", Interval = TimeSpan.FromHours(1) } },
            CancellationToken.None);
        Assert.True(updated.Ok, updated.Error?.ToString());
        await Gateway.ReloadAsync();

        // Assert: woken by the new snapshot (the hour-long interval cannot be what brings the first probe), it probes and
        // keeps ticking while there is something to probe
        Assert.True(await EventuallyAsync(() => Backend(0).Received.Any(r => r.Path == "/healthz"), TimeSpan.FromSeconds(10)), "no probe after the health check was added");
        Assert.False(prober.Idle);

        // and goes back to sleep once no upstream checks its targets again
        updated = await Gateway.Upstreams.UpdateAsync("quiet", new UpstreamChanges { HealthCheck = new HealthCheckChanges { Path = "" } }, CancellationToken.None);
        Assert.True(updated.Ok, updated.Error?.ToString());
        await Gateway.ReloadAsync();
        Assert.True(await EventuallyAsync(() => prober.Idle, TimeSpan.FromSeconds(10)), "the prober kept looking after the health check was removed");
    }

    [Fact]
    public async Task HealthCheckAdded_FirstProbeFails_TargetIsTakenOutWithoutWaitingForTheNextInterval()
    {
        // Arrange: no health check yet; the target would fail one
        await CreateAsync("added", "round_robin", targets: [new TargetInput { Url = Url(0) }]);
        await Gateway.ReloadAsync();
        Backend(0).Healthy = false;

        // Act: a health check with an hour-long interval and a threshold of one
        var updated = await Gateway.Upstreams.UpdateAsync("added", new UpstreamChanges
        {
            HealthCheck = new HealthCheckChanges { Path = "/healthz", Interval = TimeSpan.FromHours(1), UnhealthyThreshold = 1 },
        }, CancellationToken.None);
        Assert.True(updated.Ok, updated.Error?.ToString());
        await Gateway.ReloadAsync();

        // Assert: the probe the reload woke the prober for is judged by the new policy (a target still bound to the old
        // one, without checks, would ignore it, and the next probe is an hour away)
        Assert.True(await EventuallyAsync(() => States("added")[0].Health == TargetHealth.Unhealthy, TimeSpan.FromSeconds(10)),
            $"still {States("added")[0].Health} after a failed first probe");
        Assert.Equal(1, Probes());
    }

    [Fact]
    public async Task ActiveChecks_ProberWakesOncePerDueProbe_NotOnATick()
    {
        // Arrange: one target probed every second
        await ProbedAsync("paced", new HealthCheckInput { Path = "/healthz", Interval = "1s", Timeout = "5s" });
        var prober = Gateway.Service<ApiGate.Gateway.Probing.HealthProber>();
        var passesBefore = prober.Passes;
        var probesBefore = Probes();

        // Act: three more probes
        Assert.True(await EventuallyAsync(() => Probes() >= probesBefore + 3, TimeSpan.FromSeconds(20)), "probes stopped");

        // Assert: a pass over the config for each probe (give or take the one under way at either end), not one every
        // fifth of a second in between
        var passes = prober.Passes - passesBefore;
        var probes = Probes() - probesBefore;
        Assert.InRange(passes, probes - 1, probes + 1);
    }

    [Fact]
    public async Task ActiveChecks_TargetEjectedByTraffic_CooldownEndsOnTimeThoughTheNextProbeIsAnHourAway()
    {
        // Arrange: probed once an hour; the first probe has run, so the prober sleeps for the hour
        await ProbedAsync("ejected", new HealthCheckInput { Path = "/healthz", Interval = "1h", Timeout = "5s", PassiveFailures = 1, PassiveCooldown = "1s" });

        // Act: traffic ejects the target
        using (var failing = await Gateway.Client.GetAsync(Gateway.Url + "/ejected/status?code=500"))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, failing.StatusCode);
        }

        // ejected (or, on a machine slow enough that the cool-down is already over, ejected and then waiting for probes)
        Assert.Contains(States("ejected")[0].Health, new[] { TargetHealth.Ejected, TargetHealth.Unhealthy });

        // Assert: woken by the ejection, the prober ends the one-second cool-down (the target then waits for probes)
        Assert.True(await EventuallyAsync(() => States("ejected")[0].Health == TargetHealth.Unhealthy, TimeSpan.FromSeconds(10)),
            $"still {States("ejected")[0].Health} after its cool-down");
        Assert.Equal(1, Probes());
    }

    [Fact]
    public async Task ActiveChecks_ProbeRunsPastItsInterval_NextProbeStartsWhenItEnds()
    {
        // Arrange: probes every second, the first one held at the target
        var release = await FirstProbeHeldAsync("held", "1s");
        var prober = Gateway.Service<ApiGate.Gateway.Probing.HealthProber>();
        var passesBefore = prober.Passes;

        // the prober wakes when the next probe is due and finds the first still running (the only pass that can come
        // next: nothing else changes)
        Assert.True(await EventuallyAsync(() => prober.Passes > passesBefore, TimeSpan.FromSeconds(10)), "the prober did not wake when the next probe was due");
        Assert.Equal(1, Probes());

        // Act: the held probe answers
        Backend(0).HealthzHeld = null;
        release.SetResult();

        // Assert: the next probe follows; nothing but the held probe's end wakes the prober, which found every probe
        // running when it last looked and had no time to wake at
        Assert.True(await EventuallyAsync(() => Probes() >= 2, TimeSpan.FromSeconds(10)), "no probe after the held one ended");
        Assert.Equal(TargetHealth.Healthy, States("held")[0].Health);
    }

    [Fact]
    public async Task IntervalShortenedWhileAProbeRunsPastIt_NextProbeStartsWhenItEnds()
    {
        // Arrange: probed once an hour; the first probe is held at the target and has run for more than a second
        var release = await FirstProbeHeldAsync("shortened", "1h");
        var prober = Gateway.Service<ApiGate.Gateway.Probing.HealthProber>();
        var clock = Gateway.Service<TimeProvider>();
        var state = Gateway.Snapshots.Current!.RouteUpstreams.First(u => u?.Definition.Slug == "shortened")!.Targets[0].State;
        Assert.True(await EventuallyAsync(() => state.LastProbeAt is { } at && clock.GetElapsedTime(at) >= TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(10)));
        var passesBefore = prober.Passes; // the prober sleeps for the hour: nothing else wakes it

        // Act: the interval becomes 1 s, so the next probe is due while the first still runs; the prober looks (and
        // finds the probe running), then the held probe answers
        var updated = await Gateway.Upstreams.UpdateAsync("shortened", new UpstreamChanges { HealthCheck = new HealthCheckChanges { Interval = TimeSpan.FromSeconds(1) } },
            CancellationToken.None);
        Assert.True(updated.Ok, updated.Error?.ToString());
        await Gateway.ReloadAsync();
        Assert.True(await EventuallyAsync(() => prober.Passes > passesBefore, TimeSpan.FromSeconds(10)), "no pass after the reload");
        Backend(0).HealthzHeld = null;
        release.SetResult();

        // Assert: the next probe follows its end (it ran past the interval in force, though not past the hour it started
        // under)
        Assert.True(await EventuallyAsync(() => Probes() >= 2, TimeSpan.FromSeconds(10)), "no probe after the held one ended");
    }

    [Fact]
    public async Task ActiveChecks_TargetEjectedByTraffic_ProberLooksOnceForTheEjectionAndOnceWhenTheCooldownEnds()
    {
        // Arrange: probed once an hour; the first probe has run, so the prober sleeps for the hour
        await ProbedAsync("woken", new HealthCheckInput { Path = "/healthz", Interval = "1h", Timeout = "5s", PassiveFailures = 1, PassiveCooldown = "1s" });
        var prober = Gateway.Service<ApiGate.Gateway.Probing.HealthProber>();
        var passesBefore = prober.Passes;

        // Act: traffic ejects the target; the cool-down ends
        using (var failing = await Gateway.Client.GetAsync(Gateway.Url + "/woken/status?code=500"))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, failing.StatusCode);
        }

        Assert.True(await EventuallyAsync(() => States("woken")[0].Health == TargetHealth.Unhealthy, TimeSpan.FromSeconds(10)),
            $"still {States("woken")[0].Health} after its cool-down");

        // Assert: one pass woken by the ejection, one when the cool-down is over (a single one if the first came late),
        // not a timer that fires a hair early followed by passes over a cool-down a fraction of a millisecond from its end
        Assert.InRange(prober.Passes - passesBefore, 1, 2);
    }

    [Fact]
    public async Task SingleTarget_TrialIsAStream_OtherRequestsAreServedWhileItFlows()
    {
        await CreateAsync("stream", "round_robin", new UpstreamInput { HealthCheck = new HealthCheckInput { PassiveFailures = 1, PassiveCooldown = "1s" } },
            targets: [new TargetInput { Url = Url(0) }]);
        using (var failing = await Gateway.Client.GetAsync(Gateway.Url + "/stream/status?code=500"))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, failing.StatusCode);
        }

        Assert.Equal(TargetHealth.Ejected, States("stream")[0].Health);
        await Task.Delay(TimeSpan.FromMilliseconds(1_100)); // the cool-down (1 s) is over: the next request is the trial

        using var sse = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/stream/sse");
        using var stream = await Gateway.Client.SendAsync(sse, HttpCompletionOption.ResponseHeadersRead);
        await Backend(0).FirstEventSent.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var whileStreaming = await SendManyAsync("/stream/x", 3);
        var health = States("stream")[0].Health;
        Backend(0).SecondEventGate.TrySetResult();
        var body = await stream.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        Assert.Equal([200, 200, 200], whileStreaming); // settled when the stream's headers arrived, not when it ended
        Assert.Equal(TargetHealth.Healthy, health);
        Assert.Contains("data: two", body, StringComparison.Ordinal);
        Assert.Equal(0, States("stream")[0].InFlight);
    }

    [Fact]
    public async Task MaxConnsBusy_ProbesStillReachTheTargetAndItStaysHealthy()
    {
        // A probe timeout no loaded machine reaches (a slow answer must not take the only target out before the held
        // request is sent): a probe that waited for the busy slot would not reach the target at all, which is what is counted
        await CreateAsync("busy", "round_robin", new UpstreamInput
        {
            MaxConns = 1,
            HealthCheck = new HealthCheckInput { Path = "/healthz", Interval = "1s", Timeout = "10s", UnhealthyThreshold = 1 },
        }, targets: [new TargetInput { Url = Url(0) }]);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Backend(0).RequestHeld = release.Task;
        var slow = Gateway.Client.GetAsync(Gateway.Url + "/busy/held"); // holds the only traffic connection until released
        await Poll.UntilAsync(() => Backend(0).Received.Any(r => r.Path.EndsWith("/held", StringComparison.Ordinal)), () => "the held request never reached the target");
        var probesBefore = Probes();

        // Two more probes one second apart while the slot stays busy (held, not timed: how long they take on a shared
        // machine proves nothing; the 30 s bound is only for a broken build)
        await Poll.UntilAsync(() => Probes() >= probesBefore + 2, () => $"probes reaching the target while its connection slot was busy: {Probes() - probesBefore}");
        var stillBusy = !slow.IsCompleted;
        var health = States("busy")[0].Health;
        release.SetResult();
        using var response = await slow;

        Assert.True(stillBusy, "the held request ended before the probes were seen");
        Assert.Equal(TargetHealth.Healthy, health);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>An upstream over backend 0 alone with <paramref name="check"/> and a public route to it, once its first probe has reached the target.</summary>
    private async Task ProbedAsync(string name, HealthCheckInput check)
    {
        await CreateAsync(name, "round_robin", new UpstreamInput { HealthCheck = check }, [new TargetInput { Url = Url(0) }]);
        Assert.True(await EventuallyAsync(() => Probes() >= 1, TimeSpan.FromSeconds(10)), "no first probe");
    }

    /// <summary>
    /// <see cref="ProbedAsync"/> with its first probe held at the target until the returned source completes (held from
    /// the start: set after a probe was seen, the hold could still catch that probe, which the target counts before
    /// reading the hold).
    /// </summary>
    private async Task<TaskCompletionSource> FirstProbeHeldAsync(string name, string interval)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Backend(0).HealthzHeld = release.Task;
        await ProbedAsync(name, new HealthCheckInput { Path = "/healthz", Interval = interval, Timeout = "1m" });
        return release;
    }

    private int Probes() => Backend(0).Received.Count(r => r.Path.EndsWith("/healthz", StringComparison.Ordinal));
}
