using System.Text.Json;
using ApiGate.Gateway.Tests.Infrastructure;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary><c>admin.listen</c> / <c>APIGATE_ADMIN_LISTEN</c> / <c>serve --admin-listen</c> as the CLI resolves them.</summary>
public sealed class AdminListenCliTests : CliTestBase
{
    [Fact]
    public async Task AdminListenSetting_Unset_DefaultsToEmpty()
    {
        var shown = await RunAsync("config", "show", "--json");

        var setting = JsonDocument.Parse(shown.Output).RootElement.GetProperty("admin.listen");
        Assert.Equal(0, shown.ExitCode);
        Assert.Equal("", setting.GetProperty("value").GetString());
        Assert.Equal("default", setting.GetProperty("source").GetString());
    }

    [Fact]
    public async Task AdminListenSetting_FromEnvironment_IsResolved()
    {
        Environment["APIGATE_ADMIN_LISTEN"] = "[::1]:9091";

        var shown = await RunAsync("config", "show", "--json");

        var setting = JsonDocument.Parse(shown.Output).RootElement.GetProperty("admin.listen");
        Assert.Equal("[::1]:9091", setting.GetProperty("value").GetString());
        Assert.Equal("environment", setting.GetProperty("source").GetString());
    }

    [Fact]
    public async Task AdminListenSetting_FromConfigFile_IsResolved()
    {
        var file = Path.Combine(TestDirectory, "apigate.yaml");
        await File.WriteAllTextAsync(file, "admin:\n  listen: 127.0.0.1:9091\n");

        var shown = await RunAsync("config", "show", "--json", "--config", file);

        var setting = JsonDocument.Parse(shown.Output).RootElement.GetProperty("admin.listen");
        Assert.Equal("127.0.0.1:9091", setting.GetProperty("value").GetString());
        Assert.Equal("file", setting.GetProperty("source").GetString());
    }

    [Theory]
    [InlineData("9091", "is not HOST:PORT")]
    [InlineData("gateway-admin:9091", "is not an IP address or localhost")]
    [InlineData("127.0.0.1:8080", "is the server port")]
    public async Task AdminListenSetting_Invalid_IsRefusedNamingTheSetting(string value, string reason)
    {
        Environment["APIGATE_ADMIN_LISTEN"] = value;

        var refused = await RunAsync("config", "show");

        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("admin.listen", refused.Error, StringComparison.Ordinal);
        Assert.Contains("APIGATE_ADMIN_LISTEN", refused.Error, StringComparison.Ordinal);
        Assert.Contains(reason, refused.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_AdminListenFlagInvalid_IsRefusedBeforeListening()
    {
        var refused = await RunAsync("serve", "--port", "0", "--admin-listen", "nowhere");

        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("admin.listen", refused.Error, StringComparison.Ordinal);
        Assert.Contains("'nowhere' is not HOST:PORT", refused.Error, StringComparison.Ordinal);
    }
}
