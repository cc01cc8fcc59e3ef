using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Admin;

/// <summary>
/// A started gateway with the admin API on its main port, in plain HTTP on 127.0.0.1: only this machine reaches it, so
/// no clear-text warning (event 7033). The settings that do warn are in <see cref="AdminListenerInClearTests"/>, for
/// addresses a test may not bind.
/// </summary>
public sealed class MainPortInClearTests : AdminTestBase
{
    private readonly CapturedLog _log = new();

    private protected override void Configure(GatewayOptions options)
    {
        _log.TakeJsonFrom(options);
    }

    [Fact]
    public async Task Startup_AdminApiOnTheMainPortOnLoopbackInPlainHttp_NoClearTextWarning()
    {
        // Arrange: no admin listener and no certificates, so the main port on 127.0.0.1 serves the admin API in plain HTTP
        await Poll.UntilAsync(() => _log.Text.Contains("\"EventId\":7031", StringComparison.Ordinal));

        // Act: everything logged at start, and after it
        var logged = await _log.UpToMarkerAsync(Gateway);

        // Assert: the admin API was announced on the main port (event 7031, logged with the warning's check), without a warning
        Assert.Null(Gateway.AdminUrl);
        Assert.StartsWith("http://127.0.0.1:", Gateway.Url, StringComparison.Ordinal);
        Assert.Contains("Admin API at /admin and /metrics served on the main port", logged, StringComparison.Ordinal);
        Assert.DoesNotContain("\"EventId\":7033", logged, StringComparison.Ordinal);
        Assert.DoesNotContain("in clear", logged, StringComparison.Ordinal);
    }
}
