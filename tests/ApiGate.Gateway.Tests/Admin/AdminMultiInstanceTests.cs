using System.Net;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// Two gateways sharing one store: a change made through one instance's admin API reaches the other at its next store
/// poll (every 250 ms by default, so within a second), without a restart.
/// </summary>
public sealed class AdminMultiInstanceTests : AdminTestBase
{
    private protected override void Configure(Configuration.GatewayOptions options) => options.ConfigPollInterval = TimeSpan.FromMilliseconds(250);

    [Fact]
    public async Task ChangeThroughOneInstance_OtherInstanceSharingTheStore_AppliesItAtTheNextPoll()
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

        // Act: create through the first instance's admin API, let the second poll once after the commit, ask it; the
        // same for disabling. Polls are counted, not timed: how long one takes on a shared machine proves nothing.
        AssertData(await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url }), HttpStatusCode.Created);
        AssertData(await PostAsync("/routes", new { name = "shared", path = "/shared/*", upstream = "backend", auth_required = false }), HttpStatusCode.Created);
        await other.WaitForNextPollAsync();
        var afterCreate = (await other.Client.GetAsync(other.Url + "/shared/ping")).StatusCode;

        AssertData(await PostAsync("/routes/shared/disable"));
        await other.WaitForNextPollAsync();
        var afterDisable = (await other.Client.GetAsync(other.Url + "/shared/ping")).StatusCode;

        // Assert: nothing but its own poll tells the second instance (SQLite has no notifications), so the poll applied both
        Assert.Equal(HttpStatusCode.OK, afterCreate);
        Assert.Equal(HttpStatusCode.NotFound, afterDisable);
    }
}
