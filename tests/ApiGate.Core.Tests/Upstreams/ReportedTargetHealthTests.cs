using ApiGate.Core.Storage;
using ApiGate.Core.Upstreams;

namespace ApiGate.Core.Tests.Upstreams;

public sealed class ReportedTargetHealthTests
{
    private static readonly DateTimeOffset Since = new(2026, 11, 29, 12, 58, 26, TimeSpan.Zero);

    private static TargetHealthReport Report(string instance, string url, string state, string reason = "") => new()
    {
        InstanceId = instance, UpstreamId = "up_1", TargetUrl = url, State = state, Since = Since, Reason = reason, ReportedAt = Since.AddSeconds(1),
    };

    [Fact]
    public void Merge_ReportsOfSeveralInstances_GroupedPerConfiguredTargetInListOrder()
    {
        var upstream = new UpstreamDefinition
        {
            Id = "up_1", Name = "Pool", Slug = "pool", BaseUrl = "http://b:1",
            Targets = [new UpstreamTarget("http://b:1", 2), new UpstreamTarget("http://a:1"), new UpstreamTarget("http://c:1")],
        };
        TargetHealthReport[] reports =
        [
            Report("gw2", "http://a:1", "ejected"),
            Report("gw1", "http://a:1", "healthy"),
            Report("gw1", "http://b:1", "healthy"),
            Report("gw1", "http://gone:1", "unhealthy"), // a target no longer configured
        ];

        var merged = ReportedTargetHealth.Merge(upstream, reports);

        Assert.Equal(["http://b:1", "http://a:1", "http://c:1"], merged.Select(t => t.Url));
        Assert.Equal(2, merged[0].Weight);
        Assert.Equal(["gw2", "gw1"], merged[1].Reports.Select(r => r.InstanceId)); // as the store listed them
        Assert.Empty(merged[2].Reports);
        Assert.DoesNotContain(merged, t => t.Reports.Any(r => r.TargetUrl == "http://gone:1"));
    }

    [Fact]
    public void Merge_NoTargetList_TheBaseUrlIsTheOnlyTarget()
    {
        var upstream = new UpstreamDefinition { Id = "up_1", Name = "One", Slug = "one", BaseUrl = "http://a:1" };

        var merged = ReportedTargetHealth.Merge(upstream, [Report("gw1", "http://a:1", "trial")]);

        Assert.Equal("trial", Assert.Single(Assert.Single(merged).Reports).State);
    }

    [Fact]
    public void Describe_WithReason_StateSinceReasonAndReporter()
    {
        var text = ReportedTargetHealth.Describe(Report("gw1/17871/267c43", "http://a:1", "ejected", "5 consecutive failed requests"));

        Assert.Equal("ejected since 2026-11-29T12:58:26Z (5 consecutive failed requests); reported 2026-11-29T12:58:27Z by gw1/17871/267c43", text);
    }

    [Fact]
    public void Merge_ReportNotRefreshedForThreeHeartbeats_MarkedStaleAndLabelled()
    {
        var upstream = new UpstreamDefinition { Id = "up_1", Name = "One", Slug = "one", BaseUrl = "http://a:1", Targets = [new UpstreamTarget("http://a:1")] };
        var reportedAt = Since.AddSeconds(1);

        var fresh = ReportedTargetHealth.Merge(upstream, [Report("gw1", "http://a:1", "healthy")], reportedAt + ReportedTargetHealth.StaleAfter);
        var stale = ReportedTargetHealth.Merge(upstream, [Report("gw1", "http://a:1", "healthy")], reportedAt + ReportedTargetHealth.StaleAfter + TimeSpan.FromSeconds(1));

        Assert.Equal(TimeSpan.FromSeconds(30), ReportedTargetHealth.StaleAfter);
        Assert.False(fresh[0].Reports[0].Stale);
        var report = Assert.Single(stale[0].Reports);
        Assert.True(report.Stale);
        Assert.StartsWith("STALE (no heartbeat from that gateway; it has probably stopped): healthy since 2026-11-29T12:58:26Z", ReportedTargetHealth.Describe(report),
            StringComparison.Ordinal);
    }
}
