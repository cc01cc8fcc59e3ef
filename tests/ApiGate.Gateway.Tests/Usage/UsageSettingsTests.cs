using ApiGate.Core.Usage;
using ApiGate.Gateway.Configuration;
using ApiGate.Gateway.Hosting;

namespace ApiGate.Gateway.Tests.Usage;

/// <summary>The usage settings: retention periods in days, raw events on or off, export target, and their checks.</summary>
public sealed class UsageSettingsTests
{
    [Fact]
    public void Resolve_NoUsageSettings_DefaultsFromTheIssue()
    {
        // Act
        var options = Resolve([]);

        // Assert
        Assert.Equal("callers", options.UsageRawEvents);
        Assert.Equal(RawUsageEvents.Callers, options.UsageRawEventsMode);
        Assert.Equal(TimeSpan.FromDays(7), options.UsageRetention);
        Assert.Equal(TimeSpan.FromDays(30), options.UsageRollupRetention);
        Assert.Equal(TimeSpan.FromDays(400), options.UsageHourlyRetention);
        Assert.Equal(TimeSpan.FromHours(1), options.UsageCompactAfter);
        Assert.Equal("", options.UsageExport);
        Assert.Equal("7d", GatewaySettings.Get("usage.retention").Format(options));
    }

    [Fact]
    public void Resolve_UsageSettingsInDaysAndHours_Parsed()
    {
        // Act
        var options = Resolve(new()
        {
            ["APIGATE_USAGE_RETENTION"] = "36h",
            ["APIGATE_USAGE_ROLLUP_RETENTION"] = "90d",
            ["APIGATE_USAGE_HOURLY_RETENTION"] = "730d",
            ["APIGATE_USAGE_RAW_EVENTS"] = "false",
            ["APIGATE_USAGE_EXPORT"] = " stdout ",
        });

        // Assert
        Assert.Equal(TimeSpan.FromHours(36), options.UsageRetention);
        Assert.Equal(TimeSpan.FromDays(90), options.UsageRollupRetention);
        Assert.Equal(TimeSpan.FromDays(730), options.UsageHourlyRetention);
        Assert.Equal(RawUsageEvents.None, options.UsageRawEventsMode);
        Assert.Equal("stdout", options.UsageExport);
    }

    [Theory]
    [InlineData("APIGATE_USAGE_RETENTION", "7", "'7' has no unit; write it with one, e.g. 7d (days)")]
    [InlineData("APIGATE_USAGE_RETENTION", "0", "'0' is not a duration: it must be more than zero, with a unit, e.g. 7d or 12h")]
    [InlineData("APIGATE_WEBHOOK_TIMEOUT", "-5", "'-5' is not a duration: it must be more than zero, with a unit, e.g. 30s or 1500ms")]
    [InlineData("APIGATE_USAGE_RETENTION", "seven days", "is not a duration such as 7d")]
    [InlineData("APIGATE_USAGE_COMPACT_AFTER", "31d", "must be shorter than usage.rollup_retention")]
    [InlineData("APIGATE_USAGE_HOURLY_RETENTION", "10d", "must be at least usage.rollup_retention")]
    [InlineData("APIGATE_USAGE_RAW_EVENTS", "sometimes", "'sometimes' is not callers, all or none")]
    public void Resolve_BadUsageSetting_RefusedNamingIt(string variable, string value, string reason)
    {
        // Act
        var error = Assert.Throws<ArgumentException>(() => Resolve(new() { [variable] = value }));

        // Assert
        Assert.Contains(reason, error.Message);
        Assert.Contains(GatewaySettings.All.Single(s => s.EnvironmentVariable == variable).Key, error.Message);
    }

    [Theory]
    [InlineData("callers", RawUsageEvents.Callers)]
    [InlineData("ALL", RawUsageEvents.All)]
    [InlineData("true", RawUsageEvents.All)]
    [InlineData(" none ", RawUsageEvents.None)]
    [InlineData("False", RawUsageEvents.None)]
    public void Resolve_RawEvents_EveryAcceptedSpelling(string value, RawUsageEvents expected) =>
        Assert.Equal(expected, Resolve(new() { ["APIGATE_USAGE_RAW_EVENTS"] = value }).UsageRawEventsMode);

    private static GatewayOptions Resolve(Dictionary<string, string> environment) =>
        GatewayOptionsSetup.Resolve(GatewaySettings.Build(null, name => environment.GetValueOrDefault(name), new Dictionary<string, string?>()));
}
