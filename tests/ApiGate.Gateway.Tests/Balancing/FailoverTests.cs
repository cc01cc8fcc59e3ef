using System.Collections.Concurrent;
using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Balancing;

namespace ApiGate.Gateway.Tests.Balancing;

/// <summary>Targets going down and coming back: ejection, active checks, failover, all-down.</summary>
public sealed class FailoverTests : BalancingTestBase
{
    [Fact]
    public async Task TargetKilledMidTraffic_IsEjectedAndNoClientSeesAFailure()
    {
        await CreateAsync("live", "round_robin");
        var failures = new ConcurrentBag<int>();
        using var stop = new CancellationTokenSource();
        var sent = 0;

        async Task ClientAsync()
        {
            for (var i = 0; i < 2_000 && !stop.IsCancellationRequested; i++)
            {
                using var response = await Gateway.Client.GetAsync(Gateway.Url + "/live/x");
                Interlocked.Increment(ref sent);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    failures.Add((int)response.StatusCode);
                }
            }
        }

        var clients = Enumerable.Range(0, 4).Select(_ => Task.Run(ClientAsync)).ToArray();
        Assert.True(await EventuallyAsync(() => Volatile.Read(ref sent) > 50, TimeSpan.FromSeconds(20)));
        await StopAsync(1);
        var ejected = await EventuallyAsync(() => States("live").Single(s => s.Url == Url(1)).Health == TargetHealth.Ejected, TimeSpan.FromSeconds(20));
        var afterEjection = Volatile.Read(ref sent);
        await EventuallyAsync(() => Volatile.Read(ref sent) > afterEjection + 50, TimeSpan.FromSeconds(20));
        stop.Cancel();
        await Task.WhenAll(clients);

        Assert.True(ejected, "the stopped target was never ejected");
        // GETs refused by the dead target were retried on a live one; requests in flight when it stopped may fail.
        Assert.True(failures.Count <= 4, $"{failures.Count} failures: {string.Join(",", failures)}");
        var states = States("live");
        Assert.Equal(TargetHealth.Healthy, states.Single(s => s.Url == Url(0)).Health);
        Assert.Equal(TargetHealth.Healthy, states.Single(s => s.Url == Url(2)).Health);
    }

    [Fact]
    public async Task ActiveChecks_TargetFailsThenRecovers_LeavesAndRejoinsTheRotation()
    {
        await CreateAsync("checked", "round_robin", new UpstreamInput
        {
            HealthCheck = new HealthCheckInput { Path = "/healthz", Interval = "1s", Timeout = "500ms", HealthyThreshold = 1, UnhealthyThreshold = 1 },
        });

        Backend(2).Healthy = false;
        Assert.True(await EventuallyAsync(() => States("checked").Single(s => s.Url == Url(2)).Health == TargetHealth.Unhealthy, TimeSpan.FromSeconds(10)));
        var before = Served();
        await SendManyAsync("/checked/x", 30);
        var during = Served();

        Backend(2).Healthy = true;
        Assert.True(await EventuallyAsync(() => States("checked").Single(s => s.Url == Url(2)).Health == TargetHealth.Healthy, TimeSpan.FromSeconds(10)));
        await SendManyAsync("/checked/x", 30);
        var after = Served();

        Assert.Equal(before[2], during[2]); // no traffic while unhealthy
        Assert.Equal(30, during[0] + during[1] - before[0] - before[1]);
        Assert.Equal(10, after[2] - during[2]); // back to its third
    }

    [Fact]
    public async Task KilledTargetRestarted_RejoinsAfterItsChecksPass()
    {
        await CreateAsync("restart", "round_robin", new UpstreamInput
        {
            HealthCheck = new HealthCheckInput { Path = "/healthz", Interval = "1s", Timeout = "500ms", HealthyThreshold = 2, UnhealthyThreshold = 1 },
        });

        await StopAsync(0);
        Assert.True(await EventuallyAsync(() => States("restart").Single(s => s.Url == Url(0)).Health != TargetHealth.Healthy, TimeSpan.FromSeconds(10)));
        var statuses = await SendManyAsync("/restart/x", 20);
        await RestartAsync(0);
        Assert.True(await EventuallyAsync(() => States("restart").Single(s => s.Url == Url(0)).Health == TargetHealth.Healthy, TimeSpan.FromSeconds(15)));
        await SendManyAsync("/restart/x", 30);

        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.Equal(10, Backend(0).Served);
    }

    [Fact]
    public async Task FirstHealthy_FirstTargetDies_FailsOverInOrderWithoutErrors()
    {
        await CreateAsync("order", "first_healthy");
        await SendManyAsync("/order/x", 5);

        await StopAsync(0);
        var statuses = await SendManyAsync("/order/x", 20);

        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.Equal(20, Backend(1).Served);
        Assert.Equal(0, Backend(2).Served);
        Assert.Equal(TargetHealth.Ejected, States("order").Single(s => s.Url == Url(0)).Health);
    }

    [Fact]
    public async Task AllTargetsDown_Answers503UpstreamUnavailableQuickly()
    {
        await CreateAsync("gone", "round_robin", new UpstreamInput { HealthCheck = new HealthCheckInput { PassiveFailures = 2 } });
        for (var i = 0; i < 3; i++)
        {
            await StopAsync(i);
        }

        // Refused connections eject each target after two failures.
        var statuses = await SendManyAsync("/gone/x", 10);
        var attemptsBefore = States("gone").Sum(s => s.RequestsTotal);
        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/gone/x");

        Assert.Contains(503, statuses);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/vnd.api+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("upstream_unavailable", await response.Content.ReadAsStringAsync());
        Assert.Equal(attemptsBefore, States("gone").Sum(s => s.RequestsTotal)); // answered without trying a target
        Assert.All(States("gone"), s => Assert.Equal(TargetHealth.Ejected, s.Health));
    }

    [Fact]
    public async Task AllTargetsDown_503CarriesRetryAfterOfWhatIsLeftOfTheCooldown()
    {
        await CreateAsync("later", "round_robin", new UpstreamInput { HealthCheck = new HealthCheckInput { PassiveFailures = 1, PassiveCooldown = "1h" } });
        for (var i = 0; i < 3; i++)
        {
            await StopAsync(i);
        }

        await SendManyAsync("/later/x", 6);
        Assert.All(States("later"), s => Assert.Equal(TargetHealth.Ejected, s.Health));
        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/later/x");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("upstream_unavailable", await response.Content.ReadAsStringAsync());
        // The hour's cool-down started during the requests above; what is left of it, in whole seconds, rounded up.
        var retryAfter = response.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value.TotalSeconds, 3000, 3600);
    }

    [Fact]
    public async Task AllTargetsDown_WithActiveChecks_RetryAfterCountsTheProbesAfterTheCooldown()
    {
        await CreateAsync("probed", "round_robin", new UpstreamInput
        {
            HealthCheck = new HealthCheckInput
            {
                Path = "/healthz", Interval = "10m", Timeout = "500ms", HealthyThreshold = 3, UnhealthyThreshold = 1, PassiveFailures = 1, PassiveCooldown = "1h",
            },
        });
        for (var i = 0; i < 3; i++)
        {
            await StopAsync(i);
        }

        await SendManyAsync("/probed/x", 6);
        var states = States("probed");
        Assert.All(states, s => Assert.NotEqual(TargetHealth.Healthy, s.Health));
        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/probed/x");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var retryAfter = response.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        if (states.Any(s => s.Health == TargetHealth.Unhealthy))
        {
            // A target that failed the probe the upstream's creation started: three probes ten minutes apart.
            Assert.Equal(1800, retryAfter.Value.TotalSeconds);
        }
        else
        {
            // Ejected by the requests: what is left of the hour's cool-down, then those three probes.
            Assert.InRange(retryAfter.Value.TotalSeconds, 4800, 5400);
        }
    }

    [Fact]
    public async Task DisabledUpstream_503HasNoRetryAfter()
    {
        await CreateAsync("off", "round_robin");
        var updated = await Gateway.Upstreams.UpdateAsync("off", new UpstreamChanges { Enabled = false }, CancellationToken.None);
        Assert.True(updated.Ok, updated.Error?.ToString());
        await Gateway.ReloadAsync();

        using var response = await Gateway.Client.GetAsync(Gateway.Url + "/off/x");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Null(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task AllTargetsDown_AuthenticatedRequest_QuotaUnitGivenBack()
    {
        await CreateAsync("metered", "round_robin", new UpstreamInput { HealthCheck = new HealthCheckInput { PassiveFailures = 1 } });
        await Gateway.AddRouteAsync(new RouteInput { Name = "metered-auth", Path = "/auth/*", Upstream = "metered", AuthRequired = true });
        var (key, _, _) = await Gateway.CreateKeyAsync("quota@example.com", new PlanInput { Id = "small", Name = "Small", RequestsPerMonth = 100, RateLimitPerMinute = 0 });
        for (var i = 0; i < 3; i++)
        {
            await StopAsync(i);
        }

        async Task<(HttpStatusCode Status, string Used)> SendAsync()
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/auth/x");
            request.Headers.Add("X-API-Key", key);
            using var response = await Gateway.Client.SendAsync(request);
            return (response.StatusCode, response.Headers.GetValues("X-Quota-Used").Single());
        }

        var first = await SendAsync(); // refused twice (a retry), ejects two targets; billed as a 502
        var second = await SendAsync(); // ejects the third
        var unavailable = await SendAsync();
        var again = await SendAsync();

        Assert.Equal(HttpStatusCode.BadGateway, first.Status);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, unavailable.Status);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, again.Status);
        Assert.Equal(second.Used, unavailable.Used); // 503s cost nothing
        Assert.Equal(second.Used, again.Used);
    }

    [Fact]
    public async Task TargetNameDoesNotResolve_AuthenticatedRequest_NotBilled()
    {
        // Arrange: the only target's name never resolves (RFC 6761 .invalid), so no request can reach a backend
        await CreateAsync("unresolved", "round_robin", targets: [new TargetInput { Url = "http://backend.invalid:8080" }]);
        await Gateway.AddRouteAsync(new RouteInput { Name = "unresolved-auth", Path = "/unresolved-auth/*", Upstream = "unresolved", AuthRequired = true });
        var (key, _, _) = await Gateway.CreateKeyAsync("dns@example.com", new PlanInput { Id = "dns", Name = "Dns", RequestsPerMonth = 100, RateLimitPerMinute = 0 });

        // Act
        var used = new List<string>();
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Gateway.Url + "/unresolved-auth/x") { Content = new StringContent("x") };
            request.Headers.Add("X-API-Key", key);
            using var response = await Gateway.Client.SendAsync(request);
            // The lookup fails (502), or — when the machine's resolver drops the query, as a CI box's may, and answers
            // only after its own 5 s — the connect outlasts the connect timeout (504); either way no backend saw it.
            Assert.Contains(response.StatusCode, new[] { HttpStatusCode.BadGateway, HttpStatusCode.GatewayTimeout });
            used.Add(response.Headers.GetValues("X-Quota-Used").Single());
        }

        // Assert: like a refused connection, it cost nothing
        Assert.Equal(["0", "0"], used);
    }

    [Fact]
    public async Task EjectedTarget_AfterCooldownWithoutActiveChecks_GetsOneTrialAndRejoins()
    {
        await CreateAsync("trial", "round_robin", new UpstreamInput { HealthCheck = new HealthCheckInput { PassiveFailures = 1, PassiveCooldown = "1s" } });
        await StopAsync(2);
        await SendManyAsync("/trial/x", 6);
        Assert.Equal(TargetHealth.Ejected, States("trial").Single(s => s.Url == Url(2)).Health);

        await RestartAsync(2);
        await Task.Delay(1200);
        var statuses = await SendManyAsync("/trial/x", 30);

        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.Equal(TargetHealth.Healthy, States("trial").Single(s => s.Url == Url(2)).Health);
        Assert.InRange(Backend(2).Served, 9, 11);
    }

    [Fact]
    public async Task TargetState_SurvivesConfigReload()
    {
        await CreateAsync("keep", "round_robin", new UpstreamInput { HealthCheck = new HealthCheckInput { PassiveFailures = 1, PassiveCooldown = "60s" } });
        await StopAsync(1);
        await SendManyAsync("/keep/x", 6);
        Assert.Equal(TargetHealth.Ejected, States("keep").Single(s => s.Url == Url(1)).Health);

        var updated = await Gateway.Upstreams.UpdateAsync("keep", new UpstreamChanges { Description = "changed" }, CancellationToken.None);
        Assert.True(updated.Ok);
        await Gateway.ReloadAsync();

        Assert.Equal("changed", Gateway.Snapshots.Current!.RouteUpstreams.First(u => u?.Definition.Slug == "keep")!.Definition.Description);
        Assert.Equal(TargetHealth.Ejected, States("keep").Single(s => s.Url == Url(1)).Health);
    }
}
