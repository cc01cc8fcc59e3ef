using System.Net;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// A burst of one instance's own admin changes on a SQLite store: they queue for SQLite's single writer inside the
/// process, so none fails as <c>store_busy</c> (which is for another process holding the file), none is lost and
/// each has its audit row.
/// </summary>
public sealed class AdminConcurrentWriteTests : AdminTestBase
{
    private protected override void Configure(Configuration.GatewayOptions options) => options.StoreBusyTimeout = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task ThreeHundredCreatesAtOnce_EveryOneStored_NoneBusy()
    {
        // Act
        var creates = Enumerable.Range(0, 300).Select(n => PostAsync("/upstreams", new { name = $"bz{n}", url = Upstream.Url })).ToList();
        var responses = await Task.WhenAll(creates);

        // Assert
        Assert.All(responses, r => Assert.True(r.Status == HttpStatusCode.Created, $"{(int)r.Status}: {r.Raw}"));
        Assert.Equal(300, (await GetAsync("/upstreams")).Json.GetProperty("meta").GetProperty("total").GetInt32());
        Assert.Equal(300, (await GetAsync("/audit?limit=1000")).Json.GetProperty("meta").GetProperty("total").GetInt32()); // every change audited
    }
}
