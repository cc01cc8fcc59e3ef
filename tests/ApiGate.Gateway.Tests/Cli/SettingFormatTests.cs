using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Tests.Cli;

/// <summary>
/// How <c>config show</c> and <c>GET /admin/settings</c> spell a duration: as the docs write the defaults (<c>5m</c>,
/// <c>8h</c>, <c>24h</c>; it printed <c>300s</c>, <c>28800s</c>, <c>1d</c>), and always in a form the setting takes back.
/// </summary>
public sealed class SettingFormatTests
{
    [Theory]
    [InlineData("jwt.refresh_interval", "5m")]
    [InlineData("usage.compact_after", "1h")]
    [InlineData("admin.ui_session_idle", "8h")]
    [InlineData("webhook.max_age", "24h")]
    [InlineData("tls.reload_interval", "60s")]
    [InlineData("usage.retention", "7d")]
    [InlineData("upstream.timeout", "30s")]
    [InlineData("config.poll_interval", "250ms")]
    public void Format_Default_SpelledAsTheDocsWriteIt(string key, string expected)
    {
        // Act
        var shown = GatewaySettings.Get(key).Format(new GatewayOptions());

        // Assert
        Assert.Equal(expected, shown);
    }

    [Theory]
    [InlineData("upstream.timeout", "72h")] // a timer takes no days: shown in hours
    [InlineData("upstream.timeout", "90m")]
    [InlineData("upstream.timeout", "1500ms")]
    [InlineData("usage.retention", "1d")]
    [InlineData("usage.retention", "400d")]
    [InlineData("usage.retention", "36h")]
    public void Format_ThenApplied_GivesTheSameValue(string key, string written)
    {
        // Arrange
        var setting = GatewaySettings.Get(key);
        var options = new GatewayOptions();
        setting.Apply(options, written);

        // Act
        var again = new GatewayOptions();
        setting.Apply(again, setting.Format(options));

        // Assert
        Assert.Equal(setting.Format(options), setting.Format(again));
        Assert.Equal(setting.Get(options), setting.Get(again));
    }
}
