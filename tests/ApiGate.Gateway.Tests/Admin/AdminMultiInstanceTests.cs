using System.Diagnostics;
using System.Net;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// Two gateways sharing one store: a change made through one instance's admin API reaches the other within a second
/// (by the default 250 ms store poll), without a restart.
/// </summary>
public sealed class AdminMultiInstanceTests : AdminTestBase
{
    private protected override void Configure(Configuration.GatewayOptions options) => options.ConfigPollInterval = TimeSpan.FromMilliseconds(250);

    [Fact]
    public async Task ChangeThroughOneInstance_OtherInstanceSharingTheStore_AppliesItWithinASecond()
    {
        // Arrange: a second gateway on the same SQLite file, with the product's default poll interval.
        // Stopped, not disposed, at the end: disposing would delete the directory the first gateway still uses.
        var other = await TestGateway.StartAsync(o => o.ConfigPollInterval = TimeSpan.FromMilliseconds(250), Gateway.Directory);
        try
        {
            await ChangeAndWatchAsync(other);
        }
        finally
        {
            await other.StopAsync();
        }
    }

    private async Task ChangeAndWatchAsync(TestGateway other)
    {
        // Arrange: the route does not exist yet on either instance.
        Assert.Equal(HttpStatusCode.NotFound, (await other.Client.GetAsync(other.Url + "/shared/ping")).StatusCode);

        // Act: create through the first instance's admin API, then poll the second until it proxies.
        AssertData(await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url }), HttpStatusCode.Created);
        AssertData(await PostAsync("/routes", new { name = "shared", path = "/shared/*", upstream = "backend", auth_required = false }), HttpStatusCode.Created);
        var created = Stopwatch.StartNew();
        var createdSeen = await WaitForStatusAsync(other, "/shared/ping", HttpStatusCode.OK);
        var toCreate = created.Elapsed;

        AssertData(await PostAsync("/routes/shared/disable"));
        var disabled = Stopwatch.StartNew();
        var disabledSeen = await WaitForStatusAsync(other, "/shared/ping", HttpStatusCode.NotFound);
        var toDisable = disabled.Elapsed;

        // Assert: promised within 1 s; generous slack for a loaded machine.
        Assert.True(createdSeen, "the other instance never served the route created through the admin API");
        Assert.True(disabledSeen, "the other instance kept serving the route disabled through the admin API");
        Assert.True(toCreate < TimeSpan.FromSeconds(5), $"creation took {toCreate.TotalMilliseconds:F0} ms to reach the other instance");
        Assert.True(toDisable < TimeSpan.FromSeconds(5), $"disabling took {toDisable.TotalMilliseconds:F0} ms to reach the other instance");
    }

    private static async Task<bool> WaitForStatusAsync(TestGateway gateway, string path, HttpStatusCode status)
    {
        for (var i = 0; i < 200; i++)
        {
            if ((await gateway.Client.GetAsync(gateway.Url + path)).StatusCode == status)
            {
                return true;
            }

            await Task.Delay(25);
        }

        return false;
    }
}
