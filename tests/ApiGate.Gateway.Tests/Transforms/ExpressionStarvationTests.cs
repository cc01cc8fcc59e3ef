using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Transforms;

/// <summary>
/// Issue 10: catastrophic-backtracking rewrite expressions ran for 10 s each, and eight of them held unrelated traffic up
/// for 12 s. Each is now stopped by the 100 ms expression time limit. Runs alone: the thread pool it checks is the
/// process's, shared with every other test's gateway.
/// </summary>
[Collection(ProcessWideCollection.Name)]
public sealed class ExpressionStarvationTests : GatewayTestBase
{
    private const int Pathological = 8;
    private const int RoundsPerWorker = 10;
    private const int PlainWanted = 3;

    private protected override async Task SetUpAsync()
    {
        await Gateway.AddUpstreamAsync("backend", Upstream.Url);
        await Gateway.AddRouteAsync(new RouteInput { Name = "plain", Path = "/plain/*", Upstream = "backend" }, reload: false);
        await Gateway.AddRouteAsync(new RouteInput
        {
            Name = "catastrophic", Path = "/slow/{id}", MatchType = "exact", Upstream = "backend",
            PathRewrite = "(/^(a+)+$/.test('a'.repeat(40) + pathParams.id)) ? '/never' : '/slow'",
        });
    }

    [Fact]
    public async Task CatastrophicRegexRewrites_EightConcurrent_PlainRequestsKeepCompletingAndEachGets500TimeLimit()
    {
        // Arrange: eight clients keep sending the pathological request until plain traffic has been seen to complete
        // (or each has sent its bounded number of rounds).
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, Pathological).Select(_ => Task.Run(async () =>
        {
            var outcomes = new List<(HttpStatusCode Status, string Body)>();
            for (var round = 0; round < RoundsPerWorker && !stop.IsCancellationRequested; round++)
            {
                using var response = await Gateway.Client.GetAsync(Gateway.Url + "/slow/b");
                outcomes.Add((response.StatusCode, await response.Content.ReadAsStringAsync()));
            }

            return outcomes;
        })).ToArray();
        var pathological = Task.WhenAll(workers);

        // Act: plain requests while the pathological ones are in flight; only completions inside that window count.
        var plainDuringWindow = 0;
        var plainStatuses = new List<HttpStatusCode>();
        for (var attempt = 0; attempt < 200 && !pathological.IsCompleted && plainDuringWindow < PlainWanted; attempt++)
        {
            using var response = await Gateway.Client.GetAsync(Gateway.Url + "/plain/ping");
            plainStatuses.Add(response.StatusCode);
            if (!pathological.IsCompleted)
            {
                plainDuringWindow++;
            }
        }

        await stop.CancelAsync();
        var outcomes = (await pathological).SelectMany(o => o).ToList();

        // Assert
        Assert.Equal(PlainWanted, plainDuringWindow);
        Assert.All(plainStatuses, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.NotEmpty(outcomes);
        Assert.All(outcomes, outcome =>
        {
            Assert.Equal(HttpStatusCode.InternalServerError, outcome.Status);
            Assert.Contains("transform_error", outcome.Body, StringComparison.Ordinal);
            Assert.Contains("time limit of 100 ms exceeded", outcome.Body, StringComparison.Ordinal);
        });
        Assert.DoesNotContain(Upstream.Received, r => r.Path.StartsWith("/never", StringComparison.Ordinal) || r.Path == "/slow");
    }
}
