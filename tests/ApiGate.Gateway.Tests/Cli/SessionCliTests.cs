using System.Net;
using System.Text.Json;
using ApiGate.Core.Management;
using ApiGate.Gateway.Tests.AdminUi;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary><c>apigate sessions end</c> against a running gateway's store: everybody signed out at the next page.</summary>
public sealed class SessionCliTests : IAsyncLifetime
{
    private TestGateway _gateway = null!;
    private string _token = "";

    public async Task InitializeAsync()
    {
        _gateway = await TestGateway.StartAsync(o => o.PortalEnabled = true);
        _token = (await new AdminTokenService(_gateway.Store, TimeProvider.System).CreateAsync("cli-sessions", CancellationToken.None)).Value!.Token;
    }

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    [Fact]
    public async Task SessionsEnd_ConsoleOnly_ConsoleSignedOutPortalUntouched()
    {
        // Arrange: two console browsers and one portal session
        using var first = new ConsoleHttp(_gateway.Url);
        using var second = new ConsoleHttp(_gateway.Url);
        await first.SignInAsync(_token);
        await second.SignInAsync(_token);
        await _gateway.Store.CreateWebSessionAsync(
            new Core.Identity.WebSession("PORTAL", Core.Identity.WebSessionKind.Portal, "usr_1", "F", DateTimeOffset.UtcNow, DateTimeOffset.UtcNow), 20, CancellationToken.None);

        // Act
        var result = await _gateway.CliAsync("sessions", "end", "--console");
        using var page = await first.GetAsync("/ui");

        // Assert
        Assert.Equal(0, result.ExitCode);
        Assert.Equal("ended 2 console sessions" + Environment.NewLine, result.Output);
        Assert.Equal(HttpStatusCode.Found, page.StatusCode);
        Assert.Equal("/ui/login?return=%2Fui&expired=1", first.PathOf(page));
        Assert.NotNull(await _gateway.Store.FindWebSessionAsync("PORTAL", CancellationToken.None));
    }

    [Fact]
    public async Task SessionsEnd_NoOptionJson_BothApplicationsCounted()
    {
        // Arrange
        using var console = new ConsoleHttp(_gateway.Url);
        await console.SignInAsync(_token);

        // Act
        var result = await _gateway.CliAsync("--json", "sessions", "end");

        // Assert
        Assert.Equal(0, result.ExitCode);
        var ended = JsonDocument.Parse(result.Output).RootElement.GetProperty("data").GetProperty("ended");
        Assert.Equal(1, ended.GetProperty("console").GetInt32());
        Assert.Equal(0, ended.GetProperty("portal").GetInt32());
    }
}
