using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ApiGate.Gateway.Tests.Balancing;

/// <summary>
/// The HTTP client's message for an invalid status line quotes the line as the target sent it: what the gateway logs
/// and keeps as a target's reason is one bounded line (control characters made spaces), and the client's <c>502</c>
/// never quotes it (docs/observability.md).
/// </summary>
public sealed class InvalidStatusLineLogTests
{
    [Fact]
    public async Task TargetSendsAStatusLineWithControlCharacters_LoggedAsOneBoundedLine_502DoesNotQuoteIt()
    {
        // Arrange: a status line with an escape sequence, a bare CR and a forged log line, then 1,000 more characters (the
        // HTTP client quotes the whole line when no space follows the status code)
        const string Forged = "2026-12-06T16:00:00Z warn: forged entry";
        var padding = new string('A', 1000);
        await using var backend = await ScriptedBackend.StartAsync(
            $"HTTP/1.1 200\u001b[31mfake\r{Forged}{padding}\r\nX: y\r\nContent-Length: 0\r\n\r\n", thenClose: true);
        var logs = new RecordingLoggerProvider();
        await using var gateway = await TestGateway.StartAsync(services: services => services.AddSingleton<ILoggerProvider>(logs));
        await gateway.AddUpstreamAsync("backend", backend.Url, new UpstreamInput { HealthCheck = new HealthCheckInput { PassiveFailures = 1 } });
        await gateway.AddRouteAsync(new RouteInput { Name = "r", Path = "/r/*", Upstream = "backend" });
        var expected = ("Received an invalid status line: 'HTTP/1.1 200 [31mfake " + Forged + padding)[..500] + "…"; // the documented bound

        // Act
        var response = await RawHttp.GetAsync(gateway.Url, "/r/x");
        var reason = gateway.Service<TargetRegistry>().Statuses().Single().Reason;
        await gateway.StopAsync(); // every log line of the exchange is written by now

        // Assert: the client gets the gateway's own words
        Assert.Equal(502, response.Status);
        var error = JsonDocument.Parse(response.Body).RootElement.GetProperty("errors")[0];
        Assert.Equal(("upstream_error", "The upstream refused, reset or could not be reached."),
            (error.GetProperty("code").GetString(), error.GetProperty("detail").GetString()));
        Assert.DoesNotContain("fake", response.Body, StringComparison.Ordinal);

        // Assert: the 3001 warning and the target's ejection reason end with the cleaned, cut line
        var forwardFailed = Assert.Single(logs.Entries, e => e.EventId == 3001);
        Assert.EndsWith(" " + expected, forwardFailed.Message, StringComparison.Ordinal);
        Assert.Equal("1 consecutive failed requests, last: Request: " + expected, reason);
        var ejected = Assert.Single(logs.Entries, e => e.EventId == 3102);
        Assert.EndsWith(": " + reason, ejected.Message, StringComparison.Ordinal);

        // Assert: nothing the gateway logged holds a control character from the target or its whole line
        Assert.Empty(logs.Entries.Where(e => e.Message.AsSpan().IndexOfAny('\u001b', '\r', '\n') >= 0 || e.Message.Contains(padding, StringComparison.Ordinal))
            .Select(e => $"{e.Category} {e.EventId}: {e.Message}"));
    }
}
