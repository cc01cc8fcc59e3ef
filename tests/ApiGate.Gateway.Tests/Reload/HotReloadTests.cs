using System.Diagnostics;
using System.Net;
using ApiGate.Core.Management;
using ApiGate.Core.Routing;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Reload;

public sealed class HotReloadTests : IAsyncLifetime
{
    private TestUpstream _upstream = null!;
    private TestGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _upstream = await TestUpstream.StartAsync();
        _gateway = await TestGateway.StartAsync();
        await _gateway.AddUpstreamAsync("backend", _upstream.Url);
        await _gateway.AddRouteAsync(new RouteInput { Name = "stable", Path = "/stable/*", Upstream = "backend" });
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        await _upstream.DisposeAsync();
    }

    [Fact]
    public async Task CliChange_WhileServing_TakesEffectWithinOneSecond()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await _gateway.Client.GetAsync(_gateway.Url + "/fresh/x")).StatusCode);

        var created = await _gateway.CliAsync("routes", "create", "--name", "fresh", "--path", "/fresh/*", "--upstream", "backend", "--auth=false");
        Assert.Equal(0, created.ExitCode);
        var appearedAfter = await WaitForStatusAsync("/fresh/x", HttpStatusCode.OK);

        var disabled = await _gateway.CliAsync("routes", "disable", "fresh");
        Assert.Equal(0, disabled.ExitCode);
        var disappearedAfter = await WaitForStatusAsync("/fresh/x", HttpStatusCode.NotFound);

        // The gateway polls the store every 100 ms here (250 ms by default), so a change lands well inside the 1 s
        // promise; the bound below leaves slack for a loaded, shared CI machine rather than testing the promise itself.
        Assert.True(appearedAfter < TimeSpan.FromSeconds(2.5), $"route appeared after {appearedAfter.TotalMilliseconds} ms");
        Assert.True(disappearedAfter < TimeSpan.FromSeconds(2.5), $"route disappeared after {disappearedAfter.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task Reloads_DuringTraffic_FailNoRequest()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var failures = 0;
        var completed = 0;
        var clients = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var response = await _gateway.Client.GetAsync(_gateway.Url + "/stable/ping");
                Interlocked.Increment(ref completed);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref failures);
                }
            }
        })).ToList();

        for (var i = 0; i < 20 && !stop.IsCancellationRequested; i++)
        {
            var result = await _gateway.Config.UpdateRouteAsync("stable", new RouteInput { Priority = i, Description = "rev " + i }, CancellationToken.None);
            Assert.True(result.Ok);
            await _gateway.ReloadAsync();
            await Task.Delay(50);
        }

        await Task.WhenAll(clients);
        Assert.True(completed > 0);
        Assert.Equal(0, failures);
    }

    [Fact]
    public async Task BrokenSnapshot_KeepsPreviousServing()
    {
        var before = _gateway.Snapshots.Current!.Version;
        // Bypass validation to store a route that cannot compile, as a damaged or hand-edited database would.
        await _gateway.Store.CreateRouteAsync(new RouteDefinition
        {
            Id = "rt_broken",
            Name = "broken",
            Slug = "broken",
            PathPattern = "/broken/(",
            MatchType = PathMatchType.Regex,
            CreatedAt = DateTimeOffset.UtcNow,
            UpdatedAt = DateTimeOffset.UtcNow,
        }, CancellationToken.None);

        await _gateway.ReloadAsync();

        Assert.Equal(before, _gateway.Snapshots.Current!.Version);
        Assert.Equal(1, _gateway.Snapshots.ReloadFailures);
        Assert.Equal(HttpStatusCode.OK, (await _gateway.Client.GetAsync(_gateway.Url + "/stable/x")).StatusCode);
    }

    private async Task<TimeSpan> WaitForStatusAsync(string path, HttpStatusCode expected)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < TimeSpan.FromSeconds(5))
        {
            if ((await _gateway.Client.GetAsync(_gateway.Url + path)).StatusCode == expected)
            {
                return watch.Elapsed;
            }

            await Task.Delay(20);
        }

        return watch.Elapsed;
    }
}
