using ApiGate.Gateway.Hosting;
using Microsoft.Extensions.Configuration;
using ApiGate.Gateway.Configuration;

namespace ApiGate.Cli.Settings;

/// <summary>
/// One setting as resolved, for <c>apigate config show</c>: its value as given (or the default's), a file path as it is
/// read (<see cref="GatewaySettings.AsRead"/>), and where it came from.
/// </summary>
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
/// Reads the settings kept in the store that <paramref name="driver"/> and <paramref name="dsn"/> name, without
/// creating or migrating it: none when there is no store there yet or it predates them.
/// </summary>
internal delegate Task<IReadOnlyList<KeyValuePair<string, string>>> StoredSettingsReader(string driver, string dsn, CancellationToken cancellationToken);

/// <summary>
/// Resolves <see cref="GatewayOptions"/> from command-line flags &gt; <c>APIGATE_*</c> environment variables &gt;
/// the config file (<c>apigate.yaml</c>, <c>--config</c> or <c>APIGATE_CONFIG</c>) &gt; the settings kept in the
/// store (<c>apigate config set</c>) &gt; defaults, through <see cref="GatewaySettings"/> (one list of settings, the
/// options pattern, <see cref="GatewayOptionsValidator"/>). The store is found from the layers above it
/// (<c>database.*</c> cannot be stored).
/// </summary>
internal sealed class SettingsLoader(Func<string, string?> environment, StoredSettingsReader? readStored = null)
{
    /// <summary>Resolves the options. Throws <see cref="ArgumentException"/> naming the bad setting and where it came from.</summary>
    /// <param name="configPath">Explicit <c>--config</c>; when null, <c>APIGATE_CONFIG</c>, else <c>apigate.yaml</c> in the working directory if present.</param>
    /// <param name="flags">Values given as command-line flags, by dotted key (null: not given).</param>
    /// <param name="defaults">A command's own defaults by dotted key (<c>demo</c>'s store file), beneath every source.</param>
    /// <param name="unreadableStore">
    /// Given: a store that cannot be read (a server down, a file that is no database) is passed to it and the settings
    /// resolve without stored ones (<c>config show</c>, which is how one looks into that); null: it throws.
    /// </param>
    public async Task<LoadedSettings> LoadAsync(
        string? configPath, IReadOnlyDictionary<string, string?> flags, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? defaults = null,
        Action<Exception>? unreadableStore = null)
    {
        var file = YamlSettingsFile.Open(configPath ?? environment(GatewaySettings.ConfigFileVariable));
        IReadOnlyList<KeyValuePair<string, string>> stored = [];
        if (readStored is not null && Database(GatewaySettings.Build(file, environment, flags, defaults: defaults)) is var (driver, dsn))
        {
            try
            {
                // Only what `config set` may store: a row written some other way that names where the store is, a
                // secret, or a key this build does not know (a later build's) is not applied.
                stored = [.. (await readStored(driver, dsn, cancellationToken)).Where(s => GatewaySettings.Find(s.Key) is { Storable: true })];
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A store that cannot be read (a server down, a file that is no database): a bad value elsewhere is
                // reported first, as when nothing is stored, then this.
                var without = Resolve(file, flags, [], defaults);
                if (unreadableStore is null)
                {
                    throw;
                }

                unreadableStore(ex);
                return without;
            }
        }

        return Resolve(file, flags, stored, defaults);
    }

    /// <summary>
    /// What the settings would resolve to with <paramref name="stored"/> as the stored settings (<c>config set</c> and
    /// <c>config unset</c> check a change before they write it). Throws as <see cref="LoadAsync"/>.
    /// </summary>
    /// <param name="onTop">
    /// Stored values to check above every other source, as a process where nothing hides them would read them (null:
    /// none); the other stored values stay where they are.
    /// </param>
    public LoadedSettings LoadWith(
        string? configPath, IReadOnlyDictionary<string, string?> flags, IReadOnlyList<KeyValuePair<string, string>> stored,
        IReadOnlyList<KeyValuePair<string, string>>? onTop = null) =>
        Resolve(YamlSettingsFile.Open(configPath ?? environment(GatewaySettings.ConfigFileVariable)), flags, stored, null, onTop);

    private LoadedSettings Resolve(
        YamlSettingsFile? file, IReadOnlyDictionary<string, string?> flags, IReadOnlyList<KeyValuePair<string, string>> stored,
        IReadOnlyDictionary<string, string>? defaults, IReadOnlyList<KeyValuePair<string, string>>? onTop = null)
    {
        var configuration = GatewaySettings.Build(file, environment, flags, stored.Count > 0 ? stored : null, defaults, onTop is { Count: > 0 } ? onTop : null);
        var options = GatewayOptionsSetup.Resolve(configuration);
        var unset = new GatewayOptions();
        var resolved = GatewaySettings.All
            .Select(s => new ResolvedSetting(
                s, GatewaySettings.AsRead(s, configuration[s.ConfigurationKey] ?? s.Format(unset), options.DatabaseDriver), GatewaySettings.SourceOf(configuration, s)))
            .ToList();
        return new LoadedSettings(options, configuration, resolved);
    }

    /// <summary>
    /// The store the layers above the stored settings name, or null when they do not name one that can be read (a
    /// value that does not parse, an unknown driver, a DSN the driver refuses): resolving the options reports that.
    /// </summary>
    private static (string Driver, string Dsn)? Database(IConfiguration configuration)
    {
        var options = new GatewayOptions();
        try
        {
            foreach (var key in (string[])["database.driver", "database.dsn"])
            {
                var setting = GatewaySettings.Get(key);
                if (configuration[setting.ConfigurationKey] is { } value)
                {
                    setting.Apply(options, value);
                }
            }
        }
        catch (ArgumentException)
        {
            return null;
        }

        return !GatewayOptionsValidator.DatabaseProblems(options).Any() ? (options.DatabaseDriver, options.DatabaseDsn) : null;
    }
}
