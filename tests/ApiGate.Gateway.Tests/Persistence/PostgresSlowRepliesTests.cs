using System.Net;
using System.Text.Json;
using ApiGate.Core.Usage;
using ApiGate.Gateway.Tests.Infrastructure;
using ApiGate.Storage;
using ApiGate.Storage.Secrets;
using Npgsql;

namespace ApiGate.Gateway.Tests.Persistence;

/// <summary>
/// A real <c>apigate serve</c> on PostgreSQL with socket completions run inline on the socket threads (forced here: a
/// gateway on PostgreSQL does not run them by default, <see cref="Hosting.GatewayHost.PrepareProcess"/>), and every reply
/// of the database arriving in small pieces (<see cref="TrickleProxy"/>), so that no row is whole when the driver first
/// reads it. A store that read a row's columns synchronously would then wait on a socket thread for bytes only that
/// thread can deliver, and the whole process would stop answering (it did: Dapper's <c>QueryAsync</c> reads with
/// sequential access). Through start (migrations, the first snapshot), a configuration change (LISTEN/NOTIFY, a
/// reload), two key lookups and the usage writer, the gateway keeps answering.
/// </summary>
public sealed class PostgresSlowRepliesTests : ServeProcessTestBase
{
    [PostgresFact]
    public async Task Serve_InlineCompletionsAndDatabaseRepliesInPieces_StartsReloadsLooksUpKeysAndWritesUsage()
    {
        // Arrange: the gateway reaches the database only through the proxy; the CLI (another process's view) directly
        var server = await PostgresServer.Shared();
        var direct = await server.CreateDatabaseAsync();
        await using var proxy = TrickleProxy.Start(server.Port);
        var slow = new NpgsqlConnectionStringBuilder(direct) { Port = proxy.Port }.ConnectionString;
        var cli = new Dictionary<string, string> { ["APIGATE_DATABASE_DRIVER"] = "postgres", ["APIGATE_DATABASE_DSN"] = direct };
        using var serve = ServeProcess.Start(slow, new Dictionary<string, string>
        {
            ["APIGATE_DATABASE_DRIVER"] = "postgres",
            ["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1",
            ["APIGATE_USAGE_RAW_EVENTS"] = "all",
        });
        using var client = TestGateway.CreateClient();
        client.Timeout = TimeSpan.FromSeconds(20); // a stopped process fails the test instead of hanging it
        await serve.WaitUntilReadyAsync(client);

        // Act: configuration made elsewhere reaches the gateway (a reload), then two keys it has never seen
        await CliAsync(cli, "plans", "create", "--id", "basic", "--name", "Basic", "--default");
        var user = JsonDocument.Parse(await CliAsync(cli, "users", "create", "--email", "slow@example.com", "--json")).RootElement.GetProperty("id").GetString()!;
        await CliAsync(cli, "upstreams", "create", "--name", "backend", "--url", Upstream.Url);
        await CliAsync(cli, "routes", "create", "--name", "items", "--path", "/items/*", "--upstream", "backend");
        var first = KeyOf(await CliAsync(cli, "keys", "create", "--user", "slow@example.com", "--json"));
        var reached = await StatusOnceReloadedAsync(client, serve.Url + "/items/1", first);
        var second = KeyOf(await CliAsync(cli, "keys", "create", "--user", "slow@example.com", "--json"));
        var secondStatus = await SendAsync(client, serve.Url + "/items/2", second);

        // Assert: every answer came, the usage of both requests went through the proxy too, and the process is alive
        Assert.Equal(HttpStatusCode.OK, reached);
        Assert.Equal(HttpStatusCode.OK, secondStatus);
        await using var store = GatewayStores.Create("postgres", direct, new SecretProtector(null));
        IReadOnlyList<UsageEvent> usage = [];
        for (var i = 0; i < 300 && usage.Count < 2; i++)
        {
            await Task.Delay(100);
            usage = await store.GetRecentUsageAsync(user, 10, CancellationToken.None);
        }

        Assert.Equal(["/items/1", "/items/2"], usage.Select(u => u.Path).Order(StringComparer.Ordinal));
        using var health = await client.GetAsync(serve.Url + "/health/ready");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.False(serve.Process.HasExited);
        Assert.True(proxy.Connections > 0);
    }

    /// <summary>The status of a request with <paramref name="key"/> once the route exists there (bounded: 30 s).</summary>
    private static async Task<HttpStatusCode> StatusOnceReloadedAsync(HttpClient client, string url, string key)
    {
        var status = HttpStatusCode.NotFound;
        for (var i = 0; i < 300 && status == HttpStatusCode.NotFound; i++)
        {
            await Task.Delay(100);
            status = await SendAsync(client, url, key);
        }

        return status;
    }

    private static async Task<HttpStatusCode> SendAsync(HttpClient client, string url, string key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        using var response = await client.SendAsync(request);
        return response.StatusCode;
    }

    private static string KeyOf(string json) => JsonDocument.Parse(json).RootElement.GetProperty("key").GetString()!;

    private static async Task<string> CliAsync(Dictionary<string, string> environment, params string[] args)
    {
        var result = await CliRunner.RunAsync(environment, args);
        Assert.True(result.ExitCode == 0, result.Diagnostics);
        return result.Output;
    }
}
