using System.Diagnostics;
using System.Net;
using System.Text.Json;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>Upstreams with targets, policies and health checks managed over the admin API, and the target-state endpoint.</summary>
public sealed class AdminBalancingTests : AdminTestBase
{
    [Fact]
    public async Task CreateUpdateGet_WithBalancingFields_RoundTripsAndProxiesToBothBackends()
    {
        // Arrange: the fixture's upstream server and a second one.
        await using var second = await TestUpstream.StartAsync();

        // Act
        var created = await PostAsync("/upstreams", new Dictionary<string, object>
        {
            ["name"] = "Pool",
            ["targets"] = new object[] { new { url = Upstream.Url, weight = 1 }, new { url = "http://127.0.0.1:1" } },
            ["lb_policy"] = "hash",
            ["hash_on"] = "header:X-Session",
            ["health_check"] = new { path = "/healthz", interval = "5s", timeout = "1s", healthy_threshold = 2, unhealthy_threshold = 4, passive_failures = 7, passive_cooldown = "45s" },
        });
        var updated = await PatchAsync("/upstreams/pool", new Dictionary<string, object>
        {
            ["targets"] = new object[] { new { url = Upstream.Url }, second.Url + ",weight=2" }, // an object and the CLI's string form
            ["lb_policy"] = "round_robin",
            ["health_check"] = new { interval = "2s" },
        });
        var got = AssertData(await GetAsync("/upstreams/pool"));
        AssertData(await PostAsync("/routes", new { name = "pool", path = "/pool/*", upstream = "pool", auth_required = false }), HttpStatusCode.Created);
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 12; i++)
        {
            statuses.Add((await Gateway.Client.GetAsync(Gateway.Url + "/pool/item" + i)).StatusCode);
        }

        // Assert
        var c = AssertData(created, HttpStatusCode.Created);
        Assert.Equal("hash", c.GetProperty("lb_policy").GetString());
        Assert.Equal("header:X-Session", c.GetProperty("hash_on").GetString());
        Assert.Equal("http://127.0.0.1:1", c.GetProperty("targets")[1].GetProperty("url").GetString());
        AssertData(updated);
        Assert.Equal([(Upstream.Url, 1), (second.Url, 2)],
            got.GetProperty("targets").EnumerateArray().Select(t => (t.GetProperty("url").GetString(), t.GetProperty("weight").GetInt32())));
        Assert.Equal(Upstream.Url, got.GetProperty("base_url").GetString()); // the first target
        Assert.Equal("round_robin", got.GetProperty("lb_policy").GetString());
        Assert.Equal("header:X-Session", got.GetProperty("hash_on").GetString()); // kept: not in the update
        var health = got.GetProperty("health_check");
        Assert.Equal("/healthz", health.GetProperty("path").GetString());
        Assert.Equal(2000, health.GetProperty("interval_ms").GetInt32()); // changed
        Assert.Equal(1000, health.GetProperty("timeout_ms").GetInt32()); // kept
        Assert.Equal(4, health.GetProperty("unhealthy_threshold").GetInt32());
        Assert.Equal(7, health.GetProperty("passive_failures").GetInt32());
        Assert.Equal(45000, health.GetProperty("passive_cooldown_ms").GetInt32());
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
        Assert.Equal(4, Upstream.Served); // weights 1 : 2 over 12 requests
        Assert.Equal(8, second.Served);
    }

    [Theory]
    [InlineData("""{"name": "p", "targets": []}""", "/targets")]
    [InlineData("""{"name": "p", "targets": [{"weight": 2}]}""", "/targets/0/url")]
    [InlineData("""{"name": "p", "targets": [{"url": "ftp://127.0.0.1:1"}]}""", "/targets/0/url")]
    [InlineData("""{"name": "p", "targets": [{"url": "http://127.0.0.1:1", "weight": 0}]}""", "/targets/0/weight")]
    [InlineData("""{"name": "p", "targets": [{"url": "http://127.0.0.1:1"}, {"url": "http://127.0.0.1:1/"}]}""", "/targets/1/url")]
    [InlineData("""{"name": "p", "targets": [{"url": "http://127.0.0.1:1", "wieght": 2}]}""", "/targets/0/wieght")]
    [InlineData("""{"name": "p", "targets": [{"url": "http://127.0.0.1:1"}, {"url": "http://127.0.0.1:2", "weight": "heavy"}]}""", "/targets/1/weight")]
    [InlineData("""{"name": "p", "targets": ["http://127.0.0.1:1,weight=x"]}""", "/targets/0")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "lb_policy": "fastest"}""", "/lb_policy")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "lb_policy": "hash"}""", "/hash_on")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "hash_on": "cookie:x"}""", "/hash_on")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "health_check": {"interval": "soon"}}""", "/health_check/interval")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "health_check": {"interval": "100ms"}}""", "/health_check/interval")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "health_check": {"path": "healthz"}}""", "/health_check/path")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "health_check": {"path": "/health\u001b[2J"}}""", "/health_check/path")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "health_check": {"path": "/health\u0000z"}}""", "/health_check/path")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "health_check": {"path": "/health\tz"}}""", "/health_check/path")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "health_check": {"timeout": "5m"}}""", "/health_check/timeout")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "health_check": {"unhealthy_threshold": 0}}""", "/health_check/unhealthy_threshold")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "health_check": {"healthy_threshold": "two"}}""", "/health_check/healthy_threshold")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "health_check": {"intervall": "5s"}}""", "/health_check/intervall")]
    [InlineData("""{"name": "p", "url": "http://127.0.0.1:1", "health_check": "often"}""", "/health_check")]
    public async Task Create_InvalidBalancingField_Returns422WithPointerAndWritesNothing(string body, string pointer)
    {
        var response = await SendAsync(HttpMethod.Post, "/upstreams", body);
        var wrapped = await SendAsync(HttpMethod.Post, "/upstreams", "{\"data\": " + body + "}");

        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", pointer);
        AssertError(wrapped, HttpStatusCode.UnprocessableEntity, "validation_error", "/data" + pointer);
        AssertError(await GetAsync("/upstreams/p"), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Create_HealthCheckPathPastTheUrlLimit_Returns422NamingTheField()
    {
        // 70,000 characters were stored: every probe then carried a request line longer than servers take (8 KiB for
        // Kestrel and nginx by default), failed, and took each target out
        var response = await PostAsync("/upstreams", new { name = "p", url = "http://127.0.0.1:1", health_check = new { path = "/" + new string('a', 2048) } });

        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/health_check/path");
        AssertError(await GetAsync("/upstreams/p"), HttpStatusCode.NotFound, "not_found");
    }

    [Fact]
    public async Task Update_InvalidHealthCheck_Returns422AndKeepsTheOldSettings()
    {
        AssertData(await PostAsync("/upstreams", new { name = "p", targets = new[] { Upstream.Url }, health_check = new { path = "/healthz", interval = "3s" } }), HttpStatusCode.Created);

        var response = await PatchAsync("/upstreams/p", new { health_check = new { interval = "2s", passive_cooldown = "10ms" } });

        AssertError(response, HttpStatusCode.UnprocessableEntity, "validation_error", "/health_check/passive_cooldown");
        Assert.Equal(3000, AssertData(await GetAsync("/upstreams/p")).GetProperty("health_check").GetProperty("interval_ms").GetInt32());
    }

    [Fact]
    public async Task Targets_KilledTarget_ShownUnhealthyLiveAndReported()
    {
        // Arrange: two backends, probed every second; one failed probe takes a target out.
        var second = await TestUpstream.StartAsync();
        var secondUrl = second.Url;
        var stopped = false;
        try
        {
            AssertData(await PostAsync("/upstreams", new
            {
                name = "Checked",
                targets = new object[] { new { url = Upstream.Url }, new { url = secondUrl } },
                health_check = new { path = "/healthz", interval = "1s", timeout = "500ms", unhealthy_threshold = 1, healthy_threshold = 1 },
            }), HttpStatusCode.Created);
            AssertData(await PostAsync("/routes", new { name = "checked", path = "/checked/*", upstream = "checked", auth_required = false }), HttpStatusCode.Created);
            Assert.Equal(HttpStatusCode.OK, (await Gateway.Client.GetAsync(Gateway.Url + "/checked/a")).StatusCode);
            var before = await GetAsync("/upstreams/checked/targets");

            // Act
            await second.DisposeAsync();
            stopped = true;
            var after = await PollTargetsAsync("/upstreams/checked/targets", doc =>
                Live(doc, secondUrl).GetProperty("state").GetString() == "unhealthy"
                && doc.GetProperty("data")[1].GetProperty("reports").EnumerateArray().Any(r => r.GetProperty("state").GetString() == "unhealthy"));
            var cli = await Gateway.CliAsync("--json", "upstreams", "get", "checked");

            // Assert
            Assert.Equal(HttpStatusCode.OK, before.Status);
            var initial = before.Json.GetProperty("data");
            Assert.Equal([Upstream.Url, secondUrl], initial.EnumerateArray().Select(t => t.GetProperty("url").GetString()));
            Assert.Equal("healthy", Live(before.Json, Upstream.Url).GetProperty("state").GetString());
            Assert.True(Live(before.Json, Upstream.Url).GetProperty("requests_total").GetInt64() + Live(before.Json, secondUrl).GetProperty("requests_total").GetInt64() >= 1);

            var meta = after.GetProperty("meta");
            Assert.StartsWith("up_", meta.GetProperty("upstream_id").GetString());
            var instance = meta.GetProperty("instance_id").GetString();
            var dead = after.GetProperty("data")[1];
            var live = dead.GetProperty("live");
            Assert.Equal("unhealthy", live.GetProperty("state").GetString());
            Assert.Contains("failed health check", live.GetProperty("reason").GetString());
            Assert.Equal(0, live.GetProperty("in_flight").GetInt32());
            Assert.True(live.TryGetProperty("consecutive_failures", out _));
            Assert.True(live.TryGetProperty("failures_total", out _));
            var report = Assert.Single(dead.GetProperty("reports").EnumerateArray());
            Assert.Equal(instance, report.GetProperty("instance_id").GetString());
            Assert.Equal("unhealthy", report.GetProperty("state").GetString());
            Assert.Equal("healthy", Live(after, Upstream.Url).GetProperty("state").GetString());

            Assert.Equal(0, cli.ExitCode);
            var shown = JsonDocument.Parse(cli.Output).RootElement;
            Assert.Equal("checked", shown.GetProperty("slug").GetString()); // the definition's fields, unchanged
            var cliDead = shown.GetProperty("target_health")[1];
            Assert.Equal(secondUrl, cliDead.GetProperty("url").GetString());
            Assert.Equal("unhealthy", cliDead.GetProperty("reports")[0].GetProperty("state").GetString());
        }
        finally
        {
            if (!stopped)
            {
                await second.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Targets_UnknownUpstream_Returns404AndIsInOpenApi()
    {
        AssertError(await GetAsync("/upstreams/nope/targets"), HttpStatusCode.NotFound, "not_found");

        var openApi = await GetAsync("/openapi.json");
        var operation = openApi.Json.GetProperty("paths").GetProperty("/upstreams/{id}/targets").GetProperty("get");
        Assert.True(operation.GetProperty("responses").TryGetProperty("200", out _));
        Assert.True(operation.GetProperty("responses").TryGetProperty("404", out _));
    }

    private static JsonElement Live(JsonElement document, string url) =>
        document.GetProperty("data").EnumerateArray().Single(t => t.GetProperty("url").GetString() == url).GetProperty("live");

    /// <summary>Gets the target states until <paramref name="done"/> holds (at most 10 s); returns the last document.</summary>
    private async Task<JsonElement> PollTargetsAsync(string path, Func<JsonElement, bool> done)
    {
        var clock = Stopwatch.StartNew();
        JsonElement last;
        do
        {
            var response = await GetAsync(path);
            Assert.Equal(HttpStatusCode.OK, response.Status);
            last = response.Json;
            if (done(last))
            {
                return last;
            }

            await Task.Delay(100);
        }
        while (clock.Elapsed < TimeSpan.FromSeconds(10));

        Assert.Fail("the targets did not reach the expected state within 10 s: " + last.GetRawText());
        return last;
    }
}
