using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.RegularExpressions;
using ApiGate.Cli.Commands;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary>The README's quick start: <c>apigate demo</c> leaves a working gateway and prints credentials that work.</summary>
public sealed partial class DemoCommandTests : CliTestBase
{
    [Fact]
    public async Task Demo_Running_PrintedCurlsWork()
    {
        // Arrange: the demo on a free port, stopped by cancellation like Ctrl+C.
        var output = new CapturedLog(); // read while the demo writes
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var run = CliApp.RunAsync(["demo", "--port", "0"], output.Writer, TextWriter.Null, name => Environment.GetValueOrDefault(name), stop.Token);
        var printed = await WaitForAsync(output, "Press Ctrl+C", run);

        var gateway = GatewayLine().Match(printed).Groups[1].Value;
        var key = KeyLine().Match(printed).Groups[1].Value;
        var adminToken = AdminLine().Match(printed).Groups[1].Value;
        using var client = TestGateway.CreateClient();

        // Act
        using var anonymous = await client.GetAsync(gateway + "/api/hello");
        using var authenticated = await SendAsync(client, gateway + "/api/hello", key);
        using var publicRoute = await client.GetAsync(gateway + "/demo/hello");
        using var admin = await SendAsync(client, gateway + "/admin/routes", adminToken);
        using var metrics = await client.GetAsync(gateway + "/metrics");
        using var portal = await client.GetAsync(gateway + "/portal/signup");
        await stop.CancelAsync();
        var exitCode = await run;

        // Assert
        Assert.StartsWith("http://127.0.0.1:", gateway);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.OK, authenticated.StatusCode);
        Assert.Contains("x-entitlement-webhooks", (await authenticated.Content.ReadAsStringAsync()).ToLowerInvariant());
        Assert.Equal(HttpStatusCode.OK, publicRoute.StatusCode);
        Assert.Equal(HttpStatusCode.OK, admin.StatusCode);
        Assert.Contains("\"demo-api\"", await admin.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Contains("apigate_requests_total", await metrics.Content.ReadAsStringAsync());
        Assert.Contains($"  portal    {gateway}/portal  (customer sign-up, keys, usage; email verification is OFF in this demo", printed);
        Assert.Equal(HttpStatusCode.OK, portal.StatusCode);
        Assert.Contains("id=\"sign-up\"", await portal.Content.ReadAsStringAsync());
        Assert.Equal(0, exitCode);
    }

    [Fact]
    public async Task Demo_EchoOfAnEscapedPathAndQuery_ShowsThemAsTheBackendReceivedThem()
    {
        // Arrange: the README's public route, with escapes the gateway forwards as sent (%3B stays %3B) and a query
        var output = new CapturedLog();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var run = CliApp.RunAsync(["demo", "--port", "0"], output.Writer, TextWriter.Null, name => Environment.GetValueOrDefault(name), stop.Token);
        var gateway = GatewayLine().Match(await WaitForAsync(output, "Press Ctrl+C", run)).Groups[1].Value;
        using var client = TestGateway.CreateClient();

        // Act
        using var response = await client.GetAsync(gateway + "/demo/pub/a%3Bb/c%2Bd?name=apigate&tag=x%2By");
        var echo = await response.Content.ReadAsStringAsync();
        await stop.CancelAsync();
        await run;

        // Assert: the echo's text is what reached the backend, not a decoded or HTML-escaped spelling of it
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"path\": \"/echo/pub/a%3Bb/c%2Bd\",", echo, StringComparison.Ordinal);
        Assert.Contains("\"query\": \"?name=apigate&tag=x%2By\",", echo, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Demo_StartedOutsideAClone_PrintsAManageCommandThatWorksFromThere()
    {
        // Arrange: the test's working directory has no src/ApiGate.Cli, as for a published apigate
        var output = new CapturedLog();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var run = CliApp.RunAsync(["demo", "--port", "0"], output.Writer, TextWriter.Null, name => Environment.GetValueOrDefault(name), stop.Token);
        var printed = await WaitForAsync(output, "Press Ctrl+C", run);
        var command = ManageLine().Match(printed).Groups[1].Value;

        // Act: the printed line, run by a shell in the same directory
        using var shell = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("/bin/sh", ["-c", command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var listed = await shell.StandardOutput.ReadToEndAsync();
        await shell.WaitForExitAsync();
        await stop.CancelAsync();
        await run;

        // Assert
        Assert.Equal(0, shell.ExitCode);
        Assert.Contains("demo-api", listed, StringComparison.Ordinal);
    }

    [PostgresFact]
    public async Task Demo_OnPostgresWithAPasswordInTheDsn_PrintsNoPassword()
    {
        // Arrange: trust authentication on loopback takes any password, so the DSN can carry one
        var server = await PostgresServer.Shared();
        var database = new Npgsql.NpgsqlConnectionStringBuilder(await server.CreateDatabaseAsync()).Database;
        Environment["APIGATE_DATABASE_DRIVER"] = "postgres";
        Environment["APIGATE_DATABASE_DSN"] = $"postgres://postgres:demo-pw-4711@127.0.0.1:{server.Port}/{database}";
        var output = new CapturedLog();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        // Act
        var run = CliApp.RunAsync(["demo", "--port", "0"], output.Writer, TextWriter.Null, name => Environment.GetValueOrDefault(name), stop.Token);
        var printed = await WaitForAsync(output, "Press Ctrl+C", run);
        await stop.CancelAsync();
        await run;

        // Assert
        Assert.DoesNotContain("demo-pw-4711", printed, StringComparison.Ordinal);
        Assert.Contains($"(database: postgres://postgres@127.0.0.1:{server.Port}/{database})", printed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_PortInUse_OneLineNamingTheSetting_NoStoreCreated()
    {
        // Arrange
        using var occupant = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;
        Environment["APIGATE_SERVER_HOST"] = "127.0.0.1";

        // Act
        var result = await RunAsync("serve", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture));

        // Assert: the setting and the address, no stack trace from the host's start, and the store left alone
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith($"error: server.port (APIGATE_SERVER_PORT / --port): cannot listen on 127.0.0.1:{port}", result.Error.Trim(), StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(Environment["APIGATE_DATABASE_DSN"]));
    }

    [Fact]
    public async Task Demo_PortInUse_ExitsWithoutChangingTheStoreAndSuggestsPort()
    {
        // Arrange: something already listens on the port the demo is asked to use.
        using var occupant = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        occupant.Start();
        var port = ((IPEndPoint)occupant.LocalEndpoint).Port;
        var error = new StringWriter();
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));

        // Act
        var exitCode = await CliApp.RunAsync(["demo", "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture)],
            TextWriter.Null, error, name => Environment.GetValueOrDefault(name), stop.Token);
        var keys = await RunAsync("keys", "list", "--json");
        var tokens = await RunAsync("admin", "tokens", "list", "--json");
        var upstreams = await RunAsync("upstreams", "list", "--json");
        var routes = await RunAsync("routes", "list", "--json");

        // Assert: nothing written — in particular no demo upstream pointed at an echo server that exits with this
        // process (a demo already running on the port would have lost its backend)
        Assert.Equal(1, exitCode);
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("nothing in the store was changed", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, upstreams.ExitCode);
        Assert.Equal(0, JsonDocument.Parse(upstreams.Output).RootElement.GetArrayLength());
        Assert.Equal(0, routes.ExitCode);
        Assert.Equal(0, JsonDocument.Parse(routes.Output).RootElement.GetArrayLength());
        Assert.Contains("--port", error.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, keys.ExitCode);
        Assert.Equal(0, JsonDocument.Parse(keys.Output).RootElement.GetArrayLength());
        Assert.Equal(0, tokens.ExitCode);
        Assert.Equal(0, JsonDocument.Parse(tokens.Output).RootElement.GetArrayLength());
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, string url, string bearer)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return await client.SendAsync(request);
    }

    private static async Task<string> WaitForAsync(CapturedLog output, string marker, Task<int> run)
    {
        for (var i = 0; i < 600; i++)
        {
            var text = output.Text;
            if (text.Contains(marker, StringComparison.Ordinal))
            {
                return text;
            }

            Assert.False(run.IsCompleted, "demo exited early: " + text);
            await Task.Delay(100);
        }

        throw new TimeoutException("demo did not print its instructions within 60 s");
    }

    [GeneratedRegex(@"Manage it while it runs.*\n  (.+)")]
    private static partial Regex ManageLine();

    [GeneratedRegex(@"running at (http://\S+)")]
    private static partial Regex GatewayLine();

    [GeneratedRegex(@"with a new API key: (\S+)")]
    private static partial Regex KeyLine();

    [GeneratedRegex(@"admin token for \S+: (\S+)")]
    private static partial Regex AdminLine();
}
