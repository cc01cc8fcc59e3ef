using ApiGate.Gateway.Hosting;
using Microsoft.Extensions.Configuration;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Cli.Settings;

/// <summary>One setting as resolved, for <c>apigate config show</c>: its value as given (or the default's) and where it came from.</summary>
internal sealed record ResolvedSetting(GatewaySetting Setting, string Value, SettingSource Source)
{
    public string Key => Setting.Key;
}

/// <summary>What the settings resolve to: the options, the configuration they were bound from, and each setting's value and source.</summary>
internal sealed record LoadedSettings(GatewayOptions Options, IConfigurationRoot Configuration, IReadOnlyList<ResolvedSetting> Settings)
{
    /// <summary>The options and the resolved settings, for commands that need no more.</summary>
    public void Deconstruct(out GatewayOptions options, out IReadOnlyList<ResolvedSetting> settings) => (options, settings) = (Options, Settings);
}

/// <summary>
/// Resolves <see cref="GatewayOptions"/> from command-line flags &gt; <c>APIGATE_*</c> environment variables &gt;
/// the config file (<c>apigate.yaml</c>, <c>--config</c> or <c>APIGATE_CONFIG</c>) &gt; defaults, through
/// <see cref="GatewaySettings"/> (one list of settings, the options pattern, <see cref="GatewayOptionsValidator"/>).
/// </summary>
internal sealed class SettingsLoader(Func<string, string?> environment)
{
    /// <summary>Resolves the options. Throws <see cref="ArgumentException"/> naming the bad setting and where it came from.</summary>
    /// <param name="configPath">Explicit <c>--config</c>; when null, <c>APIGATE_CONFIG</c>, else <c>apigate.yaml</c> in the working directory if present.</param>
    /// <param name="flags">Values given as command-line flags, by dotted key (null: not given).</param>
    public LoadedSettings Load(string? configPath, IReadOnlyDictionary<string, string?> flags)
    {
        var file = YamlSettingsFile.Open(configPath ?? environment(GatewaySettings.ConfigFileVariable));
        var configuration = GatewaySettings.Build(file, environment, flags);
        var options = GatewayOptionsSetup.Resolve(configuration);
        var defaults = new GatewayOptions();
        var resolved = GatewaySettings.All
            .Select(s => new ResolvedSetting(s, configuration[s.ConfigurationKey] ?? s.Format(defaults), GatewaySettings.SourceOf(configuration, s)))
            .ToList();
        return new LoadedSettings(options, configuration, resolved);
    }
}
