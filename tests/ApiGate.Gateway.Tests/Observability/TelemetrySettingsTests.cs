using System.Text.Json;
using ApiGate.Gateway.Tests.Infrastructure;
using static ApiGate.Gateway.Tests.Infrastructure.ConfigShow;

namespace ApiGate.Gateway.Tests.Observability;

public sealed class TelemetrySettingsTests : CliTestBase
{
    [Fact]
    public async Task ConfigShow_Defaults_MetricsAndAccessLogOn()
    {
        var settings = await ShowAsync();

        Assert.Equal(("true", "default"), Setting(settings, "metrics.enabled"));
        Assert.Equal(("true", "default"), Setting(settings, "log.access"));
        Assert.Equal(("json", "default"), Setting(settings, "log.format"));
    }

    [Fact]
    public async Task ConfigShow_FromEnvironment_TurnsThemOff()
    {
        Environment["APIGATE_METRICS_ENABLED"] = "false";
        Environment["APIGATE_ACCESS_LOG"] = "false";

        var settings = await ShowAsync();

        Assert.Equal(("false", "environment"), Setting(settings, "metrics.enabled"));
        Assert.Equal(("false", "environment"), Setting(settings, "log.access"));
    }

    [Fact]
    public async Task AccessLogSetting_BadValue_IsRejectedWithItsName()
    {
        Environment["APIGATE_ACCESS_LOG"] = "sometimes";

        var result = await RunAsync("config", "show");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("log.access", result.Error);
        Assert.Contains("APIGATE_ACCESS_LOG", result.Error);
    }

    private async Task<JsonElement> ShowAsync()
    {
        var shown = await RunAsync("config", "show", "--json");
        Assert.Equal(0, shown.ExitCode);
        return JsonDocument.Parse(shown.Output).RootElement.Clone();
    }
}
