using System.Net;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Balancing;

/// <summary>How each policy spreads real requests over three real backends.</summary>
public sealed class PolicyDistributionTests : BalancingTestBase
{
    [Fact]
    public async Task RoundRobin_Weights123_ExactSharesOverWholeCycles()
    {
        await CreateAsync("rr", "round_robin", targets:
        [
            new TargetInput { Url = Url(0), Weight = 1 }, new TargetInput { Url = Url(1), Weight = 2 }, new TargetInput { Url = Url(2), Weight = 3 },
        ]);

        var statuses = await SendManyAsync("/rr/x", 600);

        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.Equal([100, 200, 300], Served());
    }

    [Fact]
    public async Task RoundRobin_AReloadBetweenEveryRequest_RotationGoesOnRatherThanStartingOver()
    {
        await CreateAsync("rotating", "round_robin");

        for (var i = 0; i < 9; i++)
        {
            Assert.Equal(200, Assert.Single(await SendManyAsync("/rotating/x", 1)));
            var updated = await Gateway.Upstreams.UpdateAsync("rotating", new UpstreamChanges { Description = "change " + i }, CancellationToken.None);
            Assert.True(updated.Ok, updated.Error?.ToString());
            await Gateway.ReloadAsync();
        }

        // Each reload built a new balancer; starting over, the first target took all nine
        Assert.Equal([3, 3, 3], Served());
    }

    [Fact]
    public async Task Hash_ByHeader_SameValueSticksToOneTargetAndValuesSpread()
    {
        await CreateAsync("sticky", "hash", new UpstreamInput { HashOn = "header:X-Session" });

        var ports = new Dictionary<string, HashSet<int>>();
        for (var session = 0; session < 30; session++)
        {
            for (var repeat = 0; repeat < 4; repeat++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/sticky/x");
                request.Headers.Add("X-Session", "s-" + session);
                using var response = await Gateway.Client.SendAsync(request);
                var port = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("port").GetInt32();
                (ports.TryGetValue("s-" + session, out var set) ? set : ports["s-" + session] = []).Add(port);
            }
        }

        Assert.All(ports.Values, set => Assert.Single(set)); // sticky
        Assert.Equal(3, ports.Values.Select(s => s.Single()).Distinct().Count()); // 30 sessions use all three
    }

    [Fact]
    public async Task Hash_ByClientIp_OneClientAlwaysSameTarget()
    {
        await CreateAsync("by-ip", "hash", new UpstreamInput { HashOn = "client_ip" });

        await SendManyAsync("/by-ip/x", 30);

        Assert.Equal(1, Served().Count(n => n == 30));
    }

    [Fact]
    public async Task Hash_ByKey_EachKeySticksToOneTarget()
    {
        var created = await Gateway.Upstreams.CreateAsync((new UpstreamInput
        {
            Name = "by-key", LbPolicy = "hash", HashOn = "key",
            Targets = [.. Enumerable.Range(0, 3).Select(i => new TargetInput { Url = Url(i) })],
        }).Parsed(), CancellationToken.None);
        Assert.True(created.Ok, created.Error?.ToString());
        await Gateway.AddRouteAsync(new RouteInput { Name = "by-key", Path = "/by-key/*", Upstream = "by-key", AuthRequired = true });
        var keys = new List<string>();
        for (var k = 0; k < 6; k++)
        {
            keys.Add((await Gateway.CreateKeyAsync($"u{k}@example.com", reload: k == 5)).Key);
        }

        var portsPerKey = new List<HashSet<int>>();
        foreach (var key in keys)
        {
            var ports = new HashSet<int>();
            for (var i = 0; i < 5; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, Gateway.Url + "/by-key/x");
                request.Headers.Add("X-API-Key", key);
                using var response = await Gateway.Client.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                ports.Add(JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("port").GetInt32());
            }

            portsPerKey.Add(ports);
        }

        Assert.All(portsPerKey, set => Assert.Single(set));
    }

    [Fact]
    public async Task LeastRequests_OneSlowTarget_IdleTargetsTakeTheLoad()
    {
        await CreateAsync("least", "least_requests");
        Backend(0).DelayMs = 1500;

        // Four clients, eight requests each: the slow target holds one request at a time from whoever it got.
        var workers = Enumerable.Range(0, 4).Select(_ => SendManyAsync("/least/x", 8)).ToArray();
        var results = await Task.WhenAll(workers);

        Assert.All(results.SelectMany(r => r), s => Assert.Equal(200, s));
        var served = Served();
        Assert.Equal(32, served.Sum());
        // Round robin would give each target about 11; the slow one only gets requests while it is idle.
        Assert.True(served[0] <= 8, $"slow target got {served[0]} of 32 ({string.Join(",", served)})");
        Assert.True(served[0] < served[1] && served[0] < served[2], string.Join(",", served));
    }

    [Fact]
    public async Task FirstHealthy_AllUp_EverythingGoesToTheFirstTarget()
    {
        await CreateAsync("failover", "first_healthy");

        await SendManyAsync("/failover/x", 20);

        Assert.Equal([20, 0, 0], Served());
    }

    [Theory]
    [InlineData("random")]
    [InlineData("power_of_two")]
    public async Task RandomPolicies_ManyRequests_HitEveryTarget(string policy)
    {
        await CreateAsync("spread", policy);

        var statuses = await SendManyAsync("/spread/x", 300);

        Assert.All(statuses, s => Assert.Equal(200, s));
        Assert.All(Served(), n => Assert.InRange(n, 40, 200));
    }
}
