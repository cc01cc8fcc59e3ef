using System.Diagnostics;
using System.Net;
using System.Text;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Protocols;

/// <summary>
/// SIGTERM to a real <c>apigate serve</c> with an event stream open and a shutdown timeout of ten minutes
/// (<c>APIGATE_SERVER_SHUTDOWN_TIMEOUT</c>): the stream is ended cleanly when the stop begins, the process exits 0
/// without waiting for the timeout, and the stream's usage is written before it exits.
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
        using (var kill = Process.Start("kill", ["-TERM", serve.Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
            Assert.Equal(0, kill.ExitCode);
        }

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

    private static async Task CliAsync(Dictionary<string, string> environment, params string[] args)
    {
        var result = await CliRunner.RunAsync(environment, args);
        Assert.True(result.ExitCode == 0, result.Diagnostics);
    }
}
