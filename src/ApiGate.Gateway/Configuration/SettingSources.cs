using Microsoft.Extensions.Configuration;

namespace ApiGate.Gateway.Configuration;

/// <summary>
/// Where each of a running gateway's settings came from (flag, environment, config file, stored, default), for the
/// console's settings page; unknown when the host was built from options alone (tests, embedders).
/// </summary>
internal sealed class SettingSources(IConfiguration? configuration)
{
    /// <summary>The source of <paramref name="setting"/>'s value, or null when the host was not given its configuration.</summary>
    public SettingSource? Of(GatewaySetting setting) => configuration is null ? null : GatewaySettings.SourceOf(configuration, setting);
}
