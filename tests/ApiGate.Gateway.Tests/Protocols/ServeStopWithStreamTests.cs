using System.Net;
using System.Text;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>
/// SIGTERM to a real <c>apigate serve</c> with an event stream open and a shutdown timeout of ten minutes
/// (<c>APIGATE_SERVER_SHUTDOWN_TIMEOUT</c>): the stream is ended cleanly when the stop begins, the process exits 0
/// without waiting for the timeout, and the stream's usage is written before it exits. With a stop delay
/// (<c>APIGATE_SERVER_STOP_DELAY</c>) it goes on serving, not ready, until the delay ends or a second signal.
/// </summary>
public sealed class ServeStopWithStreamTests : IAsyncLifetime
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "apigate-tests", Guid.NewGuid().ToString("N"));
    private TestUpstream _upstream = null!;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(_directory);
        _upstream = await TestUpstream.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _upstream.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task Sigterm_EventStreamOpenAndLongShutdownTimeout_StreamEndedCleanlyExitZeroUsageWritten()
    {
        // Arrange
        var database = Path.Combine(_directory, "apigate.db");
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DSN"] = database };
        await CliAsync(environment, "upstreams", "create", "--name", "backend", "--url", _upstream.Url);
        await CliAsync(environment, "routes", "create", "--name", "events", "--path", "/events/*", "--upstream", "backend", "--protocol", "sse", "--auth=false");
        using var serve = ServeProcess.Start(database, new Dictionary<string, string>
        {
            ["APIGATE_SERVER_SHUTDOWN_TIMEOUT"] = "10m",
            ["APIGATE_UPSTREAM_TIMEOUT"] = "10m", // no idle timeout ends the stream during the test
            ["APIGATE_USAGE_RAW_EVENTS"] = "all",
        });
        using var client = TestGateway.CreateClient();
        await serve.WaitUntilReadyAsync(client);
        using var sse = await client.GetAsync(serve.Url + "/events/endless-sse", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, sse.StatusCode);
        var body = await sse.Content.ReadAsStreamAsync();
        var buffer = new byte[256];
        var first = Encoding.UTF8.GetString(buffer, 0, await body.ReadAsync(buffer));
        Assert.Equal("event: first\ndata: one\n\n", first);

        // Act
        await serve.SignalAsync("-TERM");

        // Assert: the stream ends with its last chunk (a clean end, which EventSource answers by reconnecting), and the
        // process exits 0 (both waits are bounded so that a regression fails instead of hanging for ten minutes).
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        Assert.Equal(0, await body.ReadAsync(buffer, bound.Token));
        await serve.Process.WaitForExitAsync(bound.Token);
        Assert.Equal(0, serve.Process.ExitCode);
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(database, new ApiGate.Storage.Secrets.SecretProtector(null));
        var usage = Assert.Single(await store.GetRecentUsageAsync(UsageEvent.Anonymous, 10, CancellationToken.None));
        Assert.Equal(("/events/endless-sse", 200), (usage.Path, usage.Status));
        Assert.Equal(first.Length, usage.ResponseBytes);
    }

    [Fact]
    public async Task SecondSigint_RequestStillInFlightAndLongShutdownTimeout_DrainEndedProcessExitsZero()
    {
        // Arrange: a request the upstream answers in ten minutes, and ten minutes to drain
        var database = Path.Combine(_directory, "apigate.db");
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DSN"] = database };
        await CliAsync(environment, "upstreams", "create", "--name", "backend", "--url", _upstream.Url);
        await CliAsync(environment, "routes", "create", "--name", "slow", "--path", "/slow/*", "--upstream", "backend", "--auth=false");
        using var serve = ServeProcess.Start(database, new Dictionary<string, string>
        {
            ["APIGATE_SERVER_SHUTDOWN_TIMEOUT"] = "10m",
            ["APIGATE_UPSTREAM_TIMEOUT"] = "10m",
            ["APIGATE_USAGE_RAW_EVENTS"] = "all",
        });
        using var client = TestGateway.CreateClient();
        client.Timeout = Timeout.InfiniteTimeSpan; // only the gateway ends the request (the process's exit is bounded below)
        await serve.WaitUntilReadyAsync(client);
        var inFlight = client.GetAsync(serve.Url + "/slow/slow-headers?ms=600000");
        await Poll.UntilAsync(() => _upstream.Received.Any(r => r.Path == "/slow/slow-headers"));

        // Act: the first SIGINT begins the stop (the port is closed, the request drains); the second ends the drain
        await serve.SignalAsync("-INT");
        await WaitUntilRefusedAsync(new Uri(serve.Url));
        var drainingAfterFirst = !serve.Process.HasExited;
        await serve.SignalAsync("-INT");

        // Assert: the process exits 0 well before the ten minutes (bounded so that a regression fails, not hangs), the
        // request was cut, and its usage was still written on the way out
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await serve.Process.WaitForExitAsync(bound.Token);
        Assert.True(drainingAfterFirst);
        Assert.Equal(0, serve.Process.ExitCode);
        await Assert.ThrowsAsync<HttpRequestException>(() => inFlight);
        await using var store = new ApiGate.Storage.Sqlite.SqliteGatewayStore(database, new ApiGate.Storage.Secrets.SecretProtector(null));
        var usage = Assert.Single(await store.GetRecentUsageAsync(UsageEvent.Anonymous, 10, CancellationToken.None));
        Assert.Equal(("/slow/slow-headers", 499), (usage.Path, usage.Status));
    }

    [Fact]
    public async Task Sigterm_WithAStopDelay_ReadyAnswers503StoppingWhileRequestsAreStillServedUntilASecondSigterm()
    {
        // Arrange: ten minutes of stop delay, so only the second signal can end it within the test's bounds
        var database = Path.Combine(_directory, "apigate.db");
        var environment = new Dictionary<string, string> { ["APIGATE_DATABASE_DSN"] = database };
        await CliAsync(environment, "upstreams", "create", "--name", "backend", "--url", _upstream.Url);
        await CliAsync(environment, "routes", "create", "--name", "api", "--path", "/api/*", "--upstream", "backend", "--auth=false");
        using var serve = ServeProcess.Start(database, new Dictionary<string, string> { ["APIGATE_SERVER_STOP_DELAY"] = "10m" });
        using var client = TestGateway.CreateClient();
        await serve.WaitUntilReadyAsync(client);

        // Act: the first SIGTERM begins the stop; a probe sees it on its next check
        await serve.SignalAsync("-TERM");
        HttpResponseMessage? ready = null;
        for (var i = 0; i < 300 && ready?.StatusCode != HttpStatusCode.ServiceUnavailable; i++)
        {
            ready?.Dispose();
            ready = await client.GetAsync(serve.Url + "/health/ready");
            await Task.Delay(ready.StatusCode == HttpStatusCode.ServiceUnavailable ? 0 : 100);
        }

        using var readyBody = System.Text.Json.JsonDocument.Parse(await ready!.Content.ReadAsStringAsync());
        using var fresh = TestGateway.CreateClient(); // a new connection: the port is still open
        using var proxied = await fresh.GetAsync(serve.Url + "/api/during-the-delay");
        using var live = await fresh.GetAsync(serve.Url + "/health");
        var servingAfterFirst = !serve.Process.HasExited;
        await serve.SignalAsync("-TERM");

        // Assert: not ready, still serving; the second signal ends the delay (bounded so that a regression fails, not hangs)
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("stopping", readyBody.RootElement.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, proxied.StatusCode);
        Assert.Contains(_upstream.Received, r => r.Path == "/api/during-the-delay");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.True(servingAfterFirst);
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await serve.Process.WaitForExitAsync(bound.Token);
        Assert.Equal(0, serve.Process.ExitCode);
        ready.Dispose();
    }

    /// <summary>Waits (bounded: 30 s) until the gateway's port refuses new connections: its stop has begun.</summary>
    private static async Task WaitUntilRefusedAsync(Uri url)
    {
        for (var i = 0; i < 300; i++)
        {
            try
            {
                using var probe = new System.Net.Sockets.TcpClient();
                await probe.ConnectAsync(url.Host, url.Port);
            }
            catch (System.Net.Sockets.SocketException)
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail("the port still accepts connections");
    }

    private static async Task CliAsync(Dictionary<string, string> environment, params string[] args)
    {
        var result = await CliRunner.RunAsync(environment, args);
        Assert.True(result.ExitCode == 0, result.Diagnostics);
    }
}
