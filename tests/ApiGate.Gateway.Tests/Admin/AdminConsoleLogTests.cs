using System.Net;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>Admin API request lines in the console log format (<c>APIGATE_LOG_FORMAT=console</c>).</summary>
public sealed class AdminConsoleLogTests : AdminTestBase
{
    private readonly CapturedLog _log = new();

    private protected override void Configure(GatewayOptions options)
    {
        options.LogFormat = "console";
        options.LogLevel = "info";
        options.LogWriter = _log.Writer;
    }

    [Fact]
    public async Task RefusedAdminRequest_PathWithLineSeparatorAndBidiOverride_ConsoleLinesHoldThemAsUnicodeEscapes()
    {
        // Arrange: a client without an admin token sends a path that, decoded, breaks the line and reverses the rest of it
        using var request = new HttpRequestMessage(HttpMethod.Delete, Gateway.Url + "/admin/upstreams/x%E2%80%A8y%E2%80%AEz");

        // Act
        var status = (await Gateway.Client.SendAsync(request)).StatusCode;
        await Gateway.StopAsync();

        // Assert: the refusal (7001) and the request line (7020) each name the path escaped, each on one line
        Assert.Equal(HttpStatusCode.Unauthorized, status);
        var output = _log.Text;
        Assert.DoesNotContain(output, c => c is '\u2028' or '\u202E');
        var lines = output.Split('\n').Where(l => l.Contains("/admin/upstreams/x", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, lines.Count);
        Assert.Single(lines, l => l.Contains("ApiGate.Admin[7020] DELETE /admin/upstreams/x\\u2028y\\u202Ez 401 ", StringComparison.Ordinal));
        Assert.Single(lines, l => l.Contains("[7001] Admin API request DELETE /admin/upstreams/x\\u2028y\\u202Ez from 127.0.0.1 refused", StringComparison.Ordinal));
    }
}
