using ApiGate.Gateway.Configuration;

namespace ApiGate.Gateway.Admin;

/// <summary>
/// The running server's effective settings (<see cref="GatewayOptions"/>), for <c>GET /settings</c>: every setting of
/// <see cref="GatewaySettings.All"/> by its option's snake_case name, so settings added there appear here without
/// changes. Values are redacted as <c>apigate config show</c> redacts them (<see cref="GatewaySetting.Redact"/>): the
/// secret key reads <c>(set)</c> or empty, and passwords in DSNs and URLs are masked; a SQLite DSN's file, as the file
/// settings, is shown as it is read (<see cref="GatewaySettings.AsRead"/>). A duration is shown as it is written
/// (<see cref="GatewaySetting.Format"/>: <c>30s</c>, <c>250ms</c>, <c>7d</c>).
/// </summary>
internal static class AdminSettings
{
    public static IReadOnlyDictionary<string, object?> Of(GatewayOptions options)
    {
        var settings = new SortedDictionary<string, object?>(StringComparer.Ordinal);
        foreach (var setting in GatewaySettings.All)
        {
            settings[setting.AdminName] = setting.Get(options) switch
            {
                string text => setting.Redact(GatewaySettings.AsRead(setting, text, options.DatabaseDriver)),
                // As the setting is written and takes it back (30s, 7d), as config show and the console show it.
                TimeSpan => setting.Format(options),
                var other => other,
            };
        }

        return settings;
    }
}
