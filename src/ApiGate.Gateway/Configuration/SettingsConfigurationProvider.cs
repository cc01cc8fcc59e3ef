using Microsoft.Extensions.Configuration;

namespace ApiGate.Gateway.Configuration;

/// <summary>
/// A configuration provider that knows which kind of <see cref="SettingSource"/> it is, so a setting's value can be
/// traced back to it (<c>config show</c>, and messages that name where a bad value came from). Keys are the settings'
/// configuration keys (<c>server:port</c>).
/// </summary>
internal class SettingsConfigurationProvider : ConfigurationProvider, IConfigurationSource
{
    private readonly IEnumerable<KeyValuePair<string, string?>> _initial;

    public SettingsConfigurationProvider(SettingSource source, IEnumerable<KeyValuePair<string, string?>>? values = null)
    {
        Source = source;
        _initial = values ?? [];
    }

    /// <summary>What kind of source this provider is.</summary>
    public SettingSource Source { get; }

    /// <summary>Command-line flags by dotted key (<c>server.port</c>); flags not given (null) are left out.</summary>
    public static SettingsConfigurationProvider Flags(IReadOnlyDictionary<string, string?> flags) =>
        new(SettingSource.Flag, flags.Where(f => f.Value is not null).Select(f => KeyValuePair.Create(f.Key.Replace('.', ':'), f.Value)));

    /// <summary>Settings kept in the store, by dotted key (<c>server.port</c>).</summary>
    public static SettingsConfigurationProvider Stored(IEnumerable<KeyValuePair<string, string>> stored) =>
        new(SettingSource.Stored, stored.Select(s => KeyValuePair.Create(s.Key.Replace('.', ':'), (string?)s.Value)));

    /// <summary>
    /// Defaults of a command's own (<c>demo</c>: its store file, loopback), by dotted key, beneath every source: they
    /// count as <see cref="SettingSource.Default"/>.
    /// </summary>
    public static SettingsConfigurationProvider Defaults(IReadOnlyDictionary<string, string> defaults) =>
        new(SettingSource.Default, defaults.Select(d => KeyValuePair.Create(d.Key.Replace('.', ':'), (string?)d.Value)));

    /// <summary>
    /// The <c>APIGATE_*</c> variables mapped to their settings' keys through <see cref="GatewaySettings.All"/>: the
    /// names do not map mechanically (<c>APIGATE_SERVER_INLINE_SCHEDULING</c> is <c>server.inline_scheduling</c>,
    /// <c>APIGATE_ACCESS_LOG</c> is <c>log.access</c>). Reads through <paramref name="environment"/> so tests and
    /// embedders can hand their own.
    /// </summary>
    public static SettingsConfigurationProvider Environment(Func<string, string?> environment) =>
        new(SettingSource.Environment, GatewaySettings.All
            .Select(s => KeyValuePair.Create(s.ConfigurationKey, environment(s.EnvironmentVariable)))
            .Where(v => v.Value is not null));

    public override void Load()
    {
        foreach (var (key, value) in _initial)
        {
            Data[key] = value;
        }
    }

    /// <inheritdoc/>
    public IConfigurationProvider Build(IConfigurationBuilder builder) => this;
}
