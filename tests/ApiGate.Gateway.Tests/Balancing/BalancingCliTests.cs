using System.Text.Json;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Balancing;

/// <summary><c>apigate upstreams</c> with targets, policies and health checks, and the target state it shows.</summary>
public sealed class BalancingCliTests : BalancingTestBase
{
    [Fact]
    public async Task CreateUpdateGet_WithTargets_RoundTripsAndListShowsCountAndPolicy()
    {
        var created = await Gateway.CliAsync("upstreams", "create", "--name", "Pool", "--target", Url(0) + "/v1,weight=3", "--target", Url(1),
            "--lb-policy", "hash", "--hash-on", "header:X-Session", "--health-path", "/healthz", "--health-interval", "5s", "--health-timeout", "1s",
            "--healthy-threshold", "2", "--unhealthy-threshold", "4", "--passive-failures", "7", "--passive-cooldown", "45s");
        var updated = await Gateway.CliAsync("upstreams", "update", "pool", "--target", Url(2), "--target", Url(0), "--lb-policy", "least_requests");
        var got = await Gateway.CliAsync("--json", "upstreams", "get", "pool");
        var listed = await Gateway.CliAsync("upstreams", "list");

        Assert.Equal(0, created.ExitCode);
        Assert.Contains("target 1", created.Output);
        Assert.Contains(Url(0) + "/v1 (weight 3)", created.Output);
        Assert.DoesNotContain("state", created.Output); // nothing can have reported a just-created upstream
        Assert.Equal(0, updated.ExitCode);
        var u = JsonDocument.Parse(got.Output).RootElement;
        Assert.Equal(Url(2), u.GetProperty("base_url").GetString()); // the first target
        Assert.Equal([Url(2), Url(0)], u.GetProperty("targets").EnumerateArray().Select(t => t.GetProperty("url").GetString()));
        Assert.Equal("least_requests", u.GetProperty("lb_policy").GetString());
        Assert.Equal("header:X-Session", u.GetProperty("hash_on").GetString());
        var health = u.GetProperty("health_check");
        Assert.Equal("/healthz", health.GetProperty("path").GetString());
        Assert.Equal(5000, health.GetProperty("interval_ms").GetInt32());
        Assert.Equal(1000, health.GetProperty("timeout_ms").GetInt32());
        Assert.Equal(4, health.GetProperty("unhealthy_threshold").GetInt32());
        Assert.Equal(7, health.GetProperty("passive_failures").GetInt32());
        Assert.Equal(45000, health.GetProperty("passive_cooldown_ms").GetInt32());
        Assert.Contains("least_requests", listed.Output);
        Assert.Contains("TARGETS", listed.Output);
    }

    [Fact]
    public async Task Create_TargetsFlagWithCommaSeparatedList_StoresEachTargetWithItsWeight()
    {
        var created = await Gateway.CliAsync("upstreams", "create", "--name", "Listed", "--targets", Url(0) + ",weight=2," + Url(1),
            "--lb-policy", "round_robin");
        var updated = await Gateway.CliAsync("upstreams", "update", "listed", "--targets", Url(2), "--targets", Url(0) + "/v1,weight=4");
        var got = await Gateway.CliAsync("--json", "upstreams", "get", "listed");
        var refused = await Gateway.CliAsync("upstreams", "create", "--name", "Refused", "--targets", Url(0) + ",heavy");

        Assert.Equal(0, created.ExitCode);
        Assert.Contains(Url(0) + " (weight 2)", created.Output);
        Assert.Contains(Url(1) + " (weight 1)", created.Output);
        Assert.Equal(0, updated.ExitCode);
        var targets = JsonDocument.Parse(got.Output).RootElement.GetProperty("targets").EnumerateArray()
            .Select(t => (t.GetProperty("url").GetString(), t.GetProperty("weight").GetInt32()));
        Assert.Equal([(Url(2), 1), (Url(0) + "/v1", 4)], targets);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains("error: --targets: 'heavy'", refused.Error);
    }

    [Fact]
    public async Task Get_RunningGateway_ShowsEachTargetsReportedState()
    {
        await CreateAsync("shown", "round_robin", new Core.Management.UpstreamInput
        {
            // A generous timeout: on a loaded machine a healthy target's probe answered late would count as a failure, and
            // with a threshold of one mark it unhealthy (the sick one answers 503 at once, so it is seen all the same).
            HealthCheck = new Core.Management.HealthCheckInput { Path = "/healthz", Interval = "1s", Timeout = "10s", UnhealthyThreshold = 1 },
        });
        var unused = await Gateway.CliAsync("upstreams", "create", "--name", "Unused", "--target", Url(0));
        Backend(1).Healthy = false;
        Assert.True(await EventuallyAsync(() => States("shown").Single(s => s.Url == Url(1)).Health == TargetHealth.Unhealthy, TimeSpan.FromSeconds(10)));

        CliResult got = null!;
        var shown = await EventuallyAsync(() =>
        {
            got = Gateway.CliAsync("upstreams", "get", "shown").GetAwaiter().GetResult();
            return got.Output.Contains("unhealthy since", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(10));
        var unusedGet = await Gateway.CliAsync("upstreams", "get", "unused");

        Assert.True(shown, got.Output);
        Assert.True(2 == got.Output.Split('\n').Count(l => l.Contains("healthy since", StringComparison.Ordinal) && !l.Contains("unhealthy", StringComparison.Ordinal)), got.Output);
        Assert.Contains("status 503", got.Output);
        Assert.Contains("reported", got.Output);
        Assert.Equal(0, unused.ExitCode);
        Assert.Contains("unknown", unusedGet.Output);
    }

    [Fact]
    public async Task Get_RowOfACrashedInstance_ShownAsStaleBesideTheLiveOne()
    {
        await CreateAsync("crashed", "round_robin", targets: [new Core.Management.TargetInput { Url = Url(0) }]);
        var id = States("crashed")[0].UpstreamId;
        Assert.True(await EventuallyAsync(() => Gateway.Store.ListTargetHealthAsync(id, CancellationToken.None).GetAwaiter().GetResult().Count == 1, TimeSpan.FromSeconds(10)));
        var longAgo = DateTimeOffset.UtcNow.AddMinutes(-5);
        await Gateway.Store.ReportTargetHealthAsync(
        [
            new Core.Upstreams.TargetHealthReport
            {
                InstanceId = "gone-host/4242/abcdef", UpstreamId = id, TargetUrl = Url(0), State = "ejected", Since = longAgo, ReportedAt = longAgo,
            },
        ], CancellationToken.None);

        var text = await Gateway.CliAsync("upstreams", "get", "crashed");
        var json = await Gateway.CliAsync("--json", "upstreams", "get", "crashed");

        var lines = text.Output.Split('\n');
        Assert.Contains(lines, l => l.Contains("STALE", StringComparison.Ordinal) && l.Contains("ejected since", StringComparison.Ordinal) && l.Contains("gone-host/4242/abcdef", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("healthy since", StringComparison.Ordinal) && !l.Contains("STALE", StringComparison.Ordinal));
        var reports = JsonDocument.Parse(json.Output).RootElement.GetProperty("target_health")[0].GetProperty("reports").EnumerateArray().ToList();
        Assert.Equal([false, true], reports.OrderBy(r => r.GetProperty("instance_id").GetString() == "gone-host/4242/abcdef").Select(r => r.GetProperty("stale").GetBoolean()));
    }

    [Fact]
    public async Task Stop_GracefulShutdown_RemovesThisInstancesReports()
    {
        await CreateAsync("bye", "round_robin");
        Assert.True(await EventuallyAsync(() => Gateway.Store.ListTargetHealthAsync(States("bye")[0].UpstreamId, CancellationToken.None).GetAwaiter().GetResult().Count == 3,
            TimeSpan.FromSeconds(10)));
        var id = States("bye")[0].UpstreamId;

        await Gateway.StopAsync();
        await using var store = await TempStoreAt(Gateway.DatabasePath);

        Assert.Empty(await store.ListTargetHealthAsync(id, CancellationToken.None));
    }

    [Theory]
    [InlineData("--target", "--target", "ftp://x")]
    [InlineData("--target", "--target", "http://127.0.0.1:1,weight=0")]
    [InlineData("--target", "--target", "http://127.0.0.1:1,weight=1001")]
    [InlineData("--target", "--target", "http://127.0.0.1:1,heavy=2")]
    [InlineData("--target", "--target", "http://127.0.0.1:1", "--target", "http://127.0.0.1:1/")]
    [InlineData("--url", "--url", "http://127.0.0.1:1", "--target", "http://127.0.0.1:2")]
    [InlineData("--lb-policy", "--target", "http://127.0.0.1:1", "--lb-policy", "fastest")]
    [InlineData("--hash-on", "--target", "http://127.0.0.1:1", "--lb-policy", "hash")]
    [InlineData("--hash-on", "--target", "http://127.0.0.1:1", "--lb-policy", "hash", "--hash-on", "cookie:x")]
    [InlineData("--health-interval", "--target", "http://127.0.0.1:1", "--health-path", "/h", "--health-interval", "500ms")]
    [InlineData("--health-timeout", "--target", "http://127.0.0.1:1", "--health-timeout", "50ms")]
    [InlineData("--health-timeout", "--target", "http://127.0.0.1:1", "--health-timeout", "2m")]
    [InlineData("--health-path", "--target", "http://127.0.0.1:1", "--health-path", "healthz")]
    [InlineData("--healthy-threshold", "--target", "http://127.0.0.1:1", "--healthy-threshold", "0")]
    [InlineData("--passive-failures", "--target", "http://127.0.0.1:1", "--passive-failures", "many")]
    [InlineData("--passive-cooldown", "--target", "http://127.0.0.1:1", "--passive-cooldown", "10ms")]
    public async Task Create_InvalidBalancingInput_NamesTheFlagAndWritesNothing(string flag, params string[] flags)
    {
        var versionBefore = await Gateway.Store.GetConfigVersionAsync(CancellationToken.None);

        var result = await Gateway.CliAsync(["upstreams", "create", "--name", "bad", .. flags]);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("error: " + flag + ":", result.Error);
        Assert.Equal(versionBefore, await Gateway.Store.GetConfigVersionAsync(CancellationToken.None));
        Assert.Null(await Gateway.Store.FindUpstreamAsync("bad", CancellationToken.None));
    }

    [Theory]
    [InlineData("-2")]
    [InlineData("many")]
    public async Task Create_PassiveFailuresNotACount_SaysWhatTheFlagTakes(string value)
    {
        var result = await Gateway.CliAsync("upstreams", "create", "--name", "bad", "--target", "http://127.0.0.1:1", "--passive-failures", value);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: --passive-failures: '{value}' is not a number of failures (0 = off; 'default' or -1 = the default)",
            result.Error.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n')[^1]);
        Assert.Null(await Gateway.Store.FindUpstreamAsync("bad", CancellationToken.None));
    }

    [Theory]
    [InlineData("--health-timeout", "99ms", "100ms to 60s", "error: --health-timeout: must be between 100ms and 60s")]
    [InlineData("--healthy-threshold", "101", "1 to 100", "error: --healthy-threshold: must be between 1 and 100")]
    [InlineData("--unhealthy-threshold", "0", "1 to 100", "error: --unhealthy-threshold: must be between 1 and 100")]
    public async Task Help_NamesTheRangeTheCheckEnforces(string flag, string outside, string range, string refusal)
    {
        // Act: the help line, and a value just outside the range it states
        var help = await Gateway.CliAsync("upstreams", "create", "--help");
        var refused = await Gateway.CliAsync("upstreams", "create", "--name", "ranged", "--target", "http://127.0.0.1:1", "--health-path", "/healthz", flag, outside);

        // Assert
        Assert.Equal(0, help.ExitCode);
        var line = Assert.Single(help.Output.ReplaceLineEndings("\n").Split('\n'), l => l.TrimStart().StartsWith(flag, StringComparison.Ordinal));
        Assert.Contains(range, line, StringComparison.Ordinal);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains(refusal, refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Update_InvalidWeight_LeavesTheTargetsAsTheyWere()
    {
        Assert.Equal(0, (await Gateway.CliAsync("upstreams", "create", "--name", "Kept", "--target", Url(0), "--target", Url(1))).ExitCode);

        var result = await Gateway.CliAsync("upstreams", "update", "kept", "--target", Url(2) + ",weight=5000");

        Assert.Equal(2, result.ExitCode);
        var stored = await Gateway.Store.FindUpstreamAsync("kept", CancellationToken.None);
        Assert.Equal([Url(0), Url(1)], stored!.Targets.Select(t => t.Url));
    }

    private static async Task<ApiGate.Storage.Sqlite.SqliteGatewayStore> TempStoreAt(string path)
    {
        var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(path, new ApiGate.Storage.Secrets.SecretProtector(null));
        await store.InitializeAsync(CancellationToken.None);
        return store;
    }
}
