using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Hosting;

namespace ApiGate.Gateway.Tests.Webhooks;

/// <summary>The webhook settings: defaults from the issue, and refusals that name the setting.</summary>
public sealed class WebhookSettingsTests
{
    [Fact]
    public void Resolve_NoWebhookSettings_DefaultsFromTheIssue()
    {
        // Act
        var options = Resolve([]);

        // Assert
        Assert.Equal(TimeSpan.FromSeconds(10), options.WebhookTimeout);
        Assert.Equal(TimeSpan.FromHours(24), options.WebhookMaxAge);
        Assert.Equal(TimeSpan.FromSeconds(5), options.WebhookRetryBase);
        Assert.Equal(0.8, options.WebhookUsageThreshold);
        Assert.Equal("0.8", GatewaySettings.Get("webhook.usage_threshold").Format(options));
        Assert.Equal(TimeSpan.FromDays(30), options.WebhookRetention);
    }

    [Fact]
    public void Resolve_WebhookSettings_Parsed()
    {
        // Act
        var options = Resolve(new()
        {
            ["APIGATE_WEBHOOK_TIMEOUT"] = "3s",
            ["APIGATE_WEBHOOK_MAX_AGE"] = "2d",
            ["APIGATE_WEBHOOK_USAGE_THRESHOLD"] = "0.9",
        });

        // Assert
        Assert.Equal(TimeSpan.FromSeconds(3), options.WebhookTimeout);
        Assert.Equal(TimeSpan.FromDays(2), options.WebhookMaxAge);
        Assert.Equal(0.9, options.WebhookUsageThreshold);
    }

    [Theory]
    [InlineData("APIGATE_WEBHOOK_USAGE_THRESHOLD", "1.5", "must be between 0 and 1")]
    [InlineData("APIGATE_WEBHOOK_USAGE_THRESHOLD", "80%", "'80%' is not a number")]
    [InlineData("APIGATE_WEBHOOK_TIMEOUT", "10", "has no unit")]
    [InlineData("APIGATE_WEBHOOK_TIMEOUT", "10m", "must be between 100ms and 5m")]
    [InlineData("APIGATE_WEBHOOK_RETENTION", "12h", "must be at least webhook.max_age")]
    public void Resolve_BadWebhookSetting_RefusedNamingIt(string variable, string value, string reason)
    {
        // Act
        var error = Assert.Throws<ArgumentException>(() => Resolve(new() { [variable] = value }));

        // Assert
        Assert.Contains(reason, error.Message);
        Assert.Contains(GatewaySettings.All.Single(s => s.EnvironmentVariable == variable).Key, error.Message);
    }

    private static GatewayOptions Resolve(Dictionary<string, string> environment) =>
        GatewayOptionsSetup.Resolve(GatewaySettings.Build(null, name => environment.GetValueOrDefault(name), new Dictionary<string, string?>()));
}
