using System.Diagnostics;
using System.Net;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Gateway.Hosting;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Observability;
using ApiGate.Gateway.Tests.Balancing;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Observability;

/// <summary>Per-target metrics and access-log fields over three real backends on loopback.</summary>
[Collection(TelemetryCollection.Name)]
public sealed class TargetMetricsTests : BalancingTestBase
{
    private readonly CapturedLog _log = new();

    private protected override void Configure(GatewayOptions options)
    {
        _log.TakeJsonFrom(options);
    }

    [Fact]
    public async Task Scrape_RoundRobinOverThreeTargets_CountsEachTargetsRequestsExactly()
    {
        // Arrange
        await CreateAsync("trio", "round_robin");

        // Act
        var statuses = await SendManyAsync("/trio/x", 30);
        var metrics = await PrometheusText.ScrapeAfterAsync(Gateway.Client, Gateway.Url + "/metrics", requests: 30, ("upstream", "trio"));

        // Assert
        Assert.All(statuses, s => Assert.Equal(200, s));
        for (var i = 0; i < 3; i++)
        {
            var target = (Label: "target", Value: Url(i));
            Assert.Equal(10, metrics.Sum("apigate_upstream_target_requests_total", ("upstream", "trio"), target));
            Assert.Equal(0, metrics.Sum("apigate_upstream_target_failures_total", ("upstream", "trio"), target));
            Assert.Equal(1, metrics.Sum("apigate_upstream_target_healthy", ("upstream", "trio"), target));
            Assert.Single(metrics.Find("apigate_upstream_target_in_flight", ("upstream", "trio"), target));
        }

        Assert.Equal([10, 10, 10], Served());
        Assert.Equal("counter", metrics.Types["apigate_upstream_target_requests_total"]);
        Assert.Equal("gauge", metrics.Types["apigate_upstream_target_healthy"]);
        Assert.Equal(3, metrics.Find("apigate_upstream_target_healthy").Count);
        Assert.Equal(30, metrics.Sum("apigate_requests_total", ("upstream", "trio"))); // same upstream label
        Assert.Equal(0, metrics.Sum("apigate_upstream_retries_total"));
        // A request leaves its target's in-flight count just after the client has its response.
        for (var i = 0; i < 250 && metrics.Sum("apigate_upstream_target_in_flight") != 0; i++)
        {
            await Task.Delay(20);
            metrics = await PrometheusText.ScrapeAsync(Gateway.Client, Gateway.Url + "/metrics");
        }

        Assert.Equal(0, metrics.Sum("apigate_upstream_target_in_flight"));

        var lines = await AccessLinesAsync(30);
        Assert.All(lines, l => Assert.Equal(1, l.GetProperty("Attempts").GetInt32()));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(10, lines.Count(l => l.GetProperty("Target").GetString() == Url(i)));
        }
    }

    [Fact]
    public async Task TargetKilled_PassiveChecksEjectIt_HealthyGoesToZeroAndFailuresAndRetriesCount()
    {
        // Arrange: two refused requests in a row eject a target; GETs it refuses are retried on another one.
        await CreateAsync("flaky", "round_robin", new UpstreamInput { HealthCheck = new HealthCheckInput { PassiveFailures = 2 } });
        await SendManyAsync("/flaky/x", 3);
        await StopAsync(1);

        // Act
        var statuses = await SendManyAsync("/flaky/x", 30);
        var metrics = await PrometheusText.ScrapeAfterAsync(Gateway.Client, Gateway.Url + "/metrics", requests: 33, ("upstream", "flaky"));

        // Assert
        Assert.All(statuses, s => Assert.Equal(200, s));
        var dead = (Label: "target", Value: Url(1));
        Assert.Equal(0, metrics.Sum("apigate_upstream_target_healthy", ("upstream", "flaky"), dead));
        Assert.Equal(1, metrics.Sum("apigate_upstream_target_healthy", ("upstream", "flaky"), ("target", Url(0))));
        Assert.Equal(1, metrics.Sum("apigate_upstream_target_healthy", ("upstream", "flaky"), ("target", Url(2))));
        // Once before the stop, then twice refused (the second ejects it), then never again.
        Assert.Equal(3, metrics.Sum("apigate_upstream_target_requests_total", ("upstream", "flaky"), dead));
        Assert.Equal(2, metrics.Sum("apigate_upstream_target_failures_total", ("upstream", "flaky"), dead));
        Assert.Equal(0, metrics.Sum("apigate_upstream_target_failures_total", ("upstream", "flaky"), ("target", Url(0))));
        Assert.Equal(2, metrics.Sum("apigate_upstream_retries_total", ("upstream", "flaky")));
        Assert.Equal(33 + 2, metrics.Sum("apigate_upstream_target_requests_total", ("upstream", "flaky")));

        var lines = await AccessLinesAsync(33);
        var retried = lines.Where(l => l.GetProperty("Attempts").GetInt32() == 2).ToList();
        Assert.Equal(2, retried.Count);
        Assert.All(retried, l => Assert.NotEqual(Url(1), l.GetProperty("Target").GetString())); // the target that answered
        Assert.Equal(1, lines.Count(l => l.GetProperty("Target").GetString() == Url(1))); // only the request before the stop
    }

    [Fact]
    public async Task Reload_TargetRemoved_LeavesTheScrape()
    {
        // Arrange
        await CreateAsync("shrink", "round_robin");
        await SendManyAsync("/shrink/x", 6);
        Assert.Equal(3, (await PrometheusText.ScrapeAfterAsync(Gateway.Client, Gateway.Url + "/metrics", requests: 6, ("upstream", "shrink"))).Find("apigate_upstream_target_requests_total", ("upstream", "shrink")).Count);

        // Act
        var updated = await Gateway.Upstreams.UpdateAsync("shrink", (new UpstreamInput { Targets = [new TargetInput { Url = Url(0) }, new TargetInput { Url = Url(2) }] }).Parsed(), CancellationToken.None);
        Assert.True(updated.Ok, updated.Error?.ToString());
        await Gateway.ReloadAsync();
        var metrics = await PrometheusText.ScrapeAsync(Gateway.Client, Gateway.Url + "/metrics");

        // Assert
        foreach (var family in new[] { "apigate_upstream_target_requests_total", "apigate_upstream_target_failures_total", "apigate_upstream_target_healthy", "apigate_upstream_target_in_flight" })
        {
            Assert.Empty(metrics.Find(family, ("target", Url(1))));
            Assert.Equal(2, metrics.Find(family, ("upstream", "shrink")).Count);
        }

        Assert.Equal(2, metrics.Sum("apigate_upstream_target_requests_total", ("upstream", "shrink"), ("target", Url(0)))); // kept across the reload
    }



    /// <summary>The access lines, once <paramref name="count"/> are written (lines reach the writer in batches; at most 5 s).</summary>
    private async Task<List<System.Text.Json.JsonElement>> AccessLinesAsync(int count)
    {
        var lines = AccessLogTests.AccessLines(_log.Text);
        for (var i = 0; i < 250 && lines.Count < count; i++)
        {
            await Task.Delay(20);
            lines = AccessLogTests.AccessLines(_log.Text);
        }

        Assert.Equal(count, lines.Count);
        return lines;
    }
}

public sealed class TargetLabelTests
{
    [Theory]
    [InlineData("http://10.0.0.1:8080", "http://10.0.0.1:8080")]
    [InlineData("https://api.example.com/v2", "https://api.example.com/v2")]
    [InlineData("http://user:s3cret@10.0.0.1:8080/v2", "http://10.0.0.1:8080/v2")]
    [InlineData("https://token@api.example.com", "https://api.example.com")]
    [InlineData("http://a@b:p@ss@host:81/x", "http://host:81/x")]
    [InlineData("http://host/path@with-at", "http://host/path@with-at")]
    public void For_Url_DropsOnlyTheUserInfo(string url, string expected) => Assert.Equal(expected, TargetLabel.For(url));
}
