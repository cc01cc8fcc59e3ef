using System.Net;
using System.Text.Json;
using ApiGate.Core.Quotas;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Persistence;

/// <summary>
/// A rolling restart as an operator runs it (docs/scaling.md, "Rolling restart"): two real <c>apigate serve</c>
/// processes on one PostgreSQL database and one Redis, each with a stop delay, behind a load balancer the test plays
/// (<see cref="TestBalancer"/>: requests with one key alternate between the instances in rotation; readiness probed,
/// an instance taken out when it says "stopping" and put back when it is ready). A gets SIGTERM under traffic, keeps
/// serving through the delay, drains, exits 0 and is started again with the same settings; then B. Every request is
/// answered 200, and each is counted exactly once: in the store's usage and quota, and in Redis's quota counter.
/// </summary>
public sealed class RollingRestartTests : IAsyncLifetime
{
    private const string Email = "rolling@example.com";

    private readonly List<ServeProcess> _processes = [];
    private TestUpstream _upstream = null!;

    public async Task InitializeAsync() => _upstream = await TestUpstream.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var process in _processes)
        {
            process.Dispose(); // by its PID; those the test stopped have exited already
        }

        await _upstream.DisposeAsync();
    }

    [PostgresAndRedisFact]
    public async Task RollingRestartUnderTraffic_EachInstanceStoppedAndStartedInTurn_EveryRequestServedAndCountedOnce()
    {
        // Arrange: a database of its own, the shared Redis under a prefix of its own; a plan whose quota and rate limit
        // the traffic never reaches; two instances with a stop delay of 5 s (room for a loaded machine to stall the balancer), the balancer probing every 100 ms
        var dsn = await (await PostgresServer.Shared()).CreateDatabaseAsync();
        var redis = await RedisServer.Shared;
        var prefix = $"r{Guid.NewGuid():N}:";
        var cli = new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = "postgres", ["APIGATE_DATABASE_DSN"] = dsn };
        await CliAsync(cli, "migrate");
        await CliAsync(cli, "plans", "create", "--id", "rolling", "--name", "Rolling", "--requests-per-month", "1000000", "--rate-limit-per-minute", "1000000");
        var userId = IdOf(await CliAsync(cli, "users", "create", "--email", Email, "--plan", "rolling", "--json"));
        await CliAsync(cli, "upstreams", "create", "--name", "backend", "--url", _upstream.Url);
        await CliAsync(cli, "routes", "create", "--name", "api", "--path", "/api/*", "--upstream", "backend");
        using var created = JsonDocument.Parse(await CliAsync(cli, "keys", "create", "--user", Email, "--json"));
        var (keyId, key) = (created.RootElement.GetProperty("id").GetString()!, created.RootElement.GetProperty("key").GetString()!);
        var settings = new Dictionary<string, string>
        {
            ["APIGATE_DATABASE_DRIVER"] = "postgres",
            ["APIGATE_REDIS_URL"] = redis.Url(),
            ["APIGATE_REDIS_PREFIX"] = prefix,
            ["APIGATE_SERVER_STOP_DELAY"] = "5s",
        };
        ServeProcess Start(int? port = null)
        {
            var process = ServeProcess.Start(dsn, settings, port: port);
            _processes.Add(process);
            return process;
        }

        await using var balancer = new TestBalancer([Start(), Start()], "/api/", key, maxRequests: 20_000);
        balancer.Start(workers: 2);
        await Poll.UntilAsync(() => balancer[0].Served > 20 && balancer[1].Served > 20, () => Diagnose(balancer));

        // Act: A, then B: SIGTERM; once it says "stopping", one more request to it (routed before the balancer noticed);
        // its exit; the same settings started again on its port, put back once ready and served
        var rolled = new List<(bool SaidStopping, HttpStatusCode AfterStopping, int ExitCode)>();
        for (var index = 0; index < 2; index++)
        {
            var old = balancer[index];
            await old.Process.SignalAsync("-TERM");
            await Poll.UntilAsync(() => old.SaidStopping || old.Process.Process.HasExited, () => Diagnose(balancer));
            var afterStopping = await balancer.SendToAsync(old);
            using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                await old.Process.Process.WaitForExitAsync(exit.Token);
            }

            rolled.Add((old.SaidStopping, afterStopping, old.Process.Process.ExitCode));
            balancer.Replace(index, Start(old.Process.Port));
            await Poll.UntilAsync(() => balancer[index].Served > 20 || balancer[index].Process.Process.HasExited, () => Diagnose(balancer));
        }

        await balancer.StopAsync();
        var ok = balancer.Ok;
        var summary = await StoredUsageAsync(cli, ok);

        // Assert: each instance said "stopping", served on through the delay, exited 0, and came back into rotation
        Assert.True(rolled.SequenceEqual([(true, HttpStatusCode.OK, 0), (true, HttpStatusCode.OK, 0)]), $"rolled: {string.Join(", ", rolled)}; {Diagnose(balancer)}");
        Assert.True(balancer[0].Served > 20 && balancer[1].Served > 20, Diagnose(balancer));
        // every request answered 200: none met a closed port, announced or not, and none got another status
        // (with the failures' bodies and the instances' logs: a 503's error code says which step refused it)
        Assert.True(balancer.RefusedUnannounced == 0, Diagnose(balancer));
        Assert.True(balancer.RefusedAfterStopping == 0, Diagnose(balancer));
        Assert.True(balancer.Failures.Count == 0, Diagnose(balancer));
        Assert.Equal(balancer.Sent, ok);
        // each counted once: usage and quota as the CLI reports them, raw rows for the key, the quota counter in Redis
        Assert.Equal((ok, ok, ok), (summary.GetProperty("requests").GetInt64(), summary.GetProperty("units").GetInt64(), summary.GetProperty("quota_used").GetInt64()));
        Assert.Equal(ok, await CountUsageRowsAsync(dsn, keyId));
        var counter = await redis.CommandAsync("GET", $"{prefix}{{{userId}}}:q:{QuotaPeriod.StartOf(DateTimeOffset.UtcNow):yyyy-MM}");
        Assert.Equal($"${ok.ToString(System.Globalization.CultureInfo.InvariantCulture).Length}\r\n{ok}", counter);
    }

    /// <summary>
    /// <c>apigate usage summary --json</c> once the store holds <paramref name="requests"/> requests (the running
    /// instances write usage in batches; bounded: 30 s), or as it is then.
    /// </summary>
    private static async Task<JsonElement> StoredUsageAsync(Dictionary<string, string> cli, long requests)
    {
        var summary = default(JsonElement);
        for (var i = 0; i < 300; i++)
        {
            summary = JsonDocument.Parse(await CliAsync(cli, "usage", "summary", "--email", Email, "--json")).RootElement;
            if (summary.GetProperty("requests").GetInt64() >= requests)
            {
                break;
            }

            await Task.Delay(100);
        }

        return summary;
    }

    private static string Diagnose(TestBalancer balancer) =>
        $"sent {balancer.Sent}, ok {balancer.Ok}; A served {balancer[0].Served}, B {balancer[1].Served}; failures: " +
        string.Join(" | ", balancer.Failures.Take(5)) + $"\nA: {balancer[0].Process.Output}\nB: {balancer[1].Process.Output}";

    private static Task<long> CountUsageRowsAsync(string dsn, string keyId) =>
        PostgresServer.ScalarAsync(dsn, "SELECT COUNT(*) FROM usage_events WHERE key_id = @KeyId", new { KeyId = keyId });

    private static string IdOf(string json) => JsonDocument.Parse(json).RootElement.GetProperty("id").GetString()!;

    private static async Task<string> CliAsync(Dictionary<string, string> environment, params string[] args)
    {
        var result = await CliRunner.RunAsync(environment, args);
        Assert.True(result.ExitCode == 0, result.Diagnostics);
        return result.Output;
    }
}
