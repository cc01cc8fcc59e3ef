using System.Net;
using ApiGate.Gateway.Tests.Admin;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Persistence;

/// <summary>
/// Writers sharing one SQLite store: the CLI (its own store object and connections, as another process has) and the
/// running gateway's admin API at once, and a burst of admin changes. Every change is either stored and served or
/// refused with its reason; none is lost, none half-written, and the config version moves once per stored change, so
/// the gateway's snapshot ends with every one of them.
/// </summary>
public sealed class StoreWritersTogetherTests : AdminTestBase
{
    private const int EachSide = 20;
    private const int Burst = 200;

    [Fact]
    public async Task CliAndAdminApi_TwentyRouteCreatesEachAtOnce_EachStoredAndServedOrRefusedWithTheReason_VersionMovesOncePerStoredChange()
    {
        // Arrange
        AssertData(await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url }), HttpStatusCode.Created);
        var versionBefore = await Gateway.Store.GetConfigVersionAsync(CancellationToken.None);

        // Act: twenty creates through the admin API and twenty CLI commands on the same file, all at once.
        var admin = Enumerable.Range(0, EachSide)
            .Select(i => PostAsync("/routes", new { name = $"adm{i}", path = $"/adm{i}/*", upstream = "backend", auth_required = false }))
            .ToList();
        var cli = Enumerable.Range(0, EachSide)
            .Select(i => Task.Run(() => Gateway.CliAsync("routes", "create", "--name", $"cli{i}", "--path", $"/cli{i}/*", "--upstream", "backend", "--auth=false")))
            .ToList();
        var adminResults = await Task.WhenAll(admin);
        var cliResults = await Task.WhenAll(cli);

        // Assert: each answer is a creation or a refusal naming the locked store, nothing else.
        var stored = new List<string>();
        var refused = new List<string>();
        for (var i = 0; i < EachSide; i++)
        {
            var response = adminResults[i];
            if (response.Status == HttpStatusCode.Created)
            {
                stored.Add($"adm{i}");
            }
            else
            {
                AssertError(response, HttpStatusCode.ServiceUnavailable, "store_busy");
                refused.Add($"adm{i}");
            }

            var command = cliResults[i];
            if (command.ExitCode == 0)
            {
                stored.Add($"cli{i}");
            }
            else
            {
                Assert.True(command.ExitCode == 1 && command.Diagnostics.Contains("is locked by another connection or process", StringComparison.Ordinal),
                    $"exit {command.ExitCode}: {command.Error}");
                refused.Add($"cli{i}");
            }
        }

        var routes = (await Gateway.Store.ListRoutesAsync(CancellationToken.None)).Select(r => r.Name).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(stored.Order(StringComparer.Ordinal), routes);
        Assert.Equal(versionBefore + stored.Count, await Gateway.Store.GetConfigVersionAsync(CancellationToken.None));
        await AssertServedAsync(stored, refused);
    }

    [Fact]
    public async Task AdminApi_TwoHundredChangesInABurst_EveryOneStoredAndTheSnapshotEndsWithAll()
    {
        // Arrange
        AssertData(await PostAsync("/upstreams", new { name = "backend", url = Upstream.Url }), HttpStatusCode.Created);
        var versionBefore = await Gateway.Store.GetConfigVersionAsync(CancellationToken.None);

        // Act: two hundred route creates sent at once, while the gateway polls for changes.
        var responses = await Task.WhenAll(Enumerable.Range(0, Burst)
            .Select(i => PostAsync("/routes", new { name = $"b{i}", path = $"/b{i}/*", upstream = "backend", auth_required = false })));

        // Assert: all stored (this instance's own writes queue for the lock, none is busy), one version each, all served.
        Assert.All(responses, r => Assert.True(r.Status == HttpStatusCode.Created, $"{(int)r.Status}: {r.Raw}"));
        Assert.Equal(versionBefore + Burst, await Gateway.Store.GetConfigVersionAsync(CancellationToken.None));
        await AssertServedAsync(Enumerable.Range(0, Burst).Select(i => $"b{i}").ToList(), []);
    }

    /// <summary>
    /// Waits (a bounded number of polls) for the snapshot to reach the store's version, then asks each route: a stored one
    /// reaches the upstream, a refused one matches nothing.
    /// </summary>
    private async Task AssertServedAsync(IReadOnlyList<string> stored, IReadOnlyList<string> refused)
    {
        var version = await Gateway.Store.GetConfigVersionAsync(CancellationToken.None);
        await Poll.UntilAsync(() => Gateway.Snapshots.Current!.Version == version);
        foreach (var name in stored)
        {
            using var response = await Gateway.Client.GetAsync($"{Gateway.Url}/{name}/x");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{name}: {(int)response.StatusCode}");
        }

        foreach (var name in refused)
        {
            using var response = await Gateway.Client.GetAsync($"{Gateway.Url}/{name}/x");
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{name}: {(int)response.StatusCode}");
        }
    }
}
