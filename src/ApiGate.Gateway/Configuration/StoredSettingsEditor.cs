using ApiGate.Core.Management;
using ApiGate.Core.Storage;
using Microsoft.Extensions.Configuration;

namespace ApiGate.Gateway.Configuration;

/// <summary>
/// A stored setting's key and what it resolves to after a change: the value as it is read (<see cref="GatewaySettings.AsRead"/>,
/// as <c>config show</c> shows it) and redacted, and its source.
/// </summary>
public sealed record StoredSettingNow(string Key, string Value, string Source);

/// <summary>
/// What a change to the stored settings left: each changed setting as it now resolves, and notes for the operator (a
/// source above the store that hides a stored value; running gateways apply the change when they restart).
/// </summary>
public sealed record StoredSettingsChanged(IReadOnlyList<StoredSettingNow> Settings, IReadOnlyList<string> Notes);

/// <summary>
/// Changes the stored settings (SPEC §7.3) with one set of rules for <c>apigate config set</c> / <c>unset</c>, the admin
/// API's <c>PATCH /settings/stored</c> and the console's settings page: only storable settings (not where the store
/// is, not secrets, no password in a value, no control characters); the values checked with every other setting as a
/// start would check them, inside the write, against the stored settings as they will be (changes take turns); all or
/// nothing.
/// </summary>
/// <param name="sources">
/// The layers the settings were resolved from where the change is made (flags, environment, config file, a command's
/// defaults): a change is checked as they resolve with the new stored settings in place of the old.
/// </param>
/// <param name="resolve">
/// Resolves and checks the options as a start does, throwing <see cref="ArgumentException"/> naming the setting at
/// fault (<c>GatewayOptionsSetup.Resolve</c>, which asks every feature and so lives above this folder).
/// </param>
internal sealed class StoredSettingsEditor(IStoredSettingStore store, IConfigurationRoot sources, Func<IConfiguration, GatewayOptions> resolve, TimeProvider timeProvider)
{
    /// <summary>What a restart-only change means for the processes that run already.</summary>
    public const string RestartNote = "running gateways apply stored settings when they restart";

    /// <summary>The longest key an unknown one is compared with the settings' keys for a suggestion; longer ones are named cut.</summary>
    private const int MaxKeyLength = 100;

    /// <summary>The settings a store may keep, in the order <c>config show</c> lists them.</summary>
    public static IEnumerable<GatewaySetting> Storable => GatewaySettings.All.Where(s => s.Storable);

    /// <summary>
    /// <paramref name="stored"/> as the admin API and the console list it: the value redacted as <c>config show</c>
    /// redacts it. The table may hold rows <c>config set</c> refuses (a secret, a URL with a password) however they got
    /// there; they are not applied, and not shown either.
    /// </summary>
    public static StoredSetting Shown(StoredSetting stored) =>
        GatewaySettings.Find(stored.Key) is { } setting ? stored with { Value = setting.Redact(stored.Value) } : stored;

    /// <summary>
    /// A value as a message or an audit note names it: a long one cut short (a message may travel in a redirect's URL,
    /// and a value may have 8,192 characters); the lists show it whole.
    /// </summary>
    public static string ValueInText(string value) =>
        value.Length == 0 ? "(empty)"
        : value.Length <= ValueInTextLength ? value
        : value[..(char.IsHighSurrogate(value[ValueInTextLength - 1]) ? ValueInTextLength - 1 : ValueInTextLength)] + $"… ({value.Length} characters)";

    /// <summary>What <paramref name="changes"/> did, for the audit log: <c>Stored log.level = debug; forgot ratelimit.burst.</c></summary>
    public static string Described(IReadOnlyList<KeyValuePair<string, string?>> changes) =>
        string.Join("; ", changes.Select((c, i) => (i == 0 ? (c.Value is null ? "Forgot " : "Stored ") : (c.Value is null ? "forgot " : "stored ")) + c.Key + (c.Value is null ? "" : " = " + ValueInText(c.Value)))) + ".";

    private const int ValueInTextLength = 200;

    /// <summary>
    /// The changes <paramref name="given"/> names (a null value: forget the key), or why not: an unknown key, one given
    /// twice, one the store may not keep, a value with a password or control characters. Errors name the key, and as
    /// their field the list it came from (<paramref name="setField"/> for a value, <paramref name="unsetField"/> for a
    /// key to forget; empty on the command line).
    /// </summary>
    public static ManagementResult<IReadOnlyList<KeyValuePair<string, string?>>> Parse(
        IEnumerable<(string Key, string? Value)> given, string setField = "", string unsetField = "")
    {
        var changes = new List<KeyValuePair<string, string?>>();
        foreach (var (key, value) in given)
        {
            var field = value is null ? unsetField : setField;
            var setting = GatewaySettings.Find(key.Trim());
            if (setting is null)
            {
                // A key much longer than any setting's is named by its start, without a guess: the edit distance to
                // every setting would take seconds for a key of a megabyte, which the admin API reads.
                return Refused(field, key.Length > MaxKeyLength
                    ? $"'{key[..(char.IsHighSurrogate(key[MaxKeyLength - 1]) ? MaxKeyLength - 1 : MaxKeyLength)]}…' ({key.Length} characters) is not a setting (config show lists them all)"
                    : $"'{key}' is not a setting (did you mean {GatewaySettings.ClosestKey(key.Trim())}? config show lists them all)");
            }

            if (!setting.Storable)
            {
                return Refused(field, setting.Secret
                    ? $"{setting.Key} is a secret, which the store would keep in plain text; set it in the environment ({setting.EnvironmentVariable}) or the config file"
                    : $"{setting.Key} says where the store is and how to open it, so it cannot be kept there; set it in the environment ({setting.EnvironmentVariable}), the config file or a flag");
            }

            if (changes.Any(c => c.Key == setting.Key))
            {
                return Refused(field, $"{setting.Key} is given twice");
            }

            if (value is not null)
            {
                if (TextFields.Check(setting.Key, value) is { } bad)
                {
                    return Refused(field, bad.ToString()); // a line break or ESC stored would break every line that shows it
                }

                if (setting.Redact(value) != value)
                {
                    return Refused(field,
                        $"{setting.Key}: the value holds a password, which the store would keep in plain text; set it in the environment ({setting.EnvironmentVariable}) or the config file");
                }
            }

            changes.Add(KeyValuePair.Create(setting.Key, value));
        }

        return changes.Count == 0 ? Refused(setField, "name at least one setting to set or unset") : changes;
    }

    /// <summary>
    /// Writes <paramref name="changes"/> (from <see cref="Parse"/>) in one transaction if the settings they leave would
    /// start; else nothing, with the setting a start would refuse and where its value came from. An unset of a key that
    /// is not stored is not found.
    /// </summary>
    public async Task<ManagementResult<StoredSettingsChanged>> ChangeAsync(IReadOnlyList<KeyValuePair<string, string?>> changes, CancellationToken ct)
    {
        IConfigurationRoot next = sources;
        var driver = "";
        List<GatewaySetting> hiddenHere = [];
        try
        {
            await store.ChangeStoredSettingsAsync(changes, timeProvider.GetUtcNow(), ct, (before, after) =>
            {
                // In the write's turn, so of two changes forgetting one key at once, the second is told it is gone.
                if (NotStored(changes, before.Keys) is { } gone)
                {
                    throw new NotStoredException(gone);
                }

                next = GatewaySettings.Restack(sources, [.. after]);
                driver = resolve(next).DatabaseDriver;
                // A value a flag, the environment or the file hides here is read as it is by every process without
                // them, so it is checked as those would read it: else 'server.port abc' is stored and every such
                // process refuses to start.
                hiddenHere = [.. changes.Where(c => c.Value is not null).Select(c => GatewaySettings.Get(c.Key)).Where(s => GatewaySettings.SourceOf(next, s) != SettingSource.Stored)];
                if (hiddenHere.Count > 0)
                {
                    resolve(GatewaySettings.Restack(sources, [.. after], [.. hiddenHere.Select(h => KeyValuePair.Create(h.Key, after[h.Key]))]));
                }
            });
        }
        catch (ArgumentException ex)
        {
            return new ManagementError(ManagementErrorKind.Validation, "", ex.Message);
        }
        catch (NotStoredException ex)
        {
            return ex.Error;
        }

        var defaults = new GatewayOptions();
        var now = changes.Select(c => GatewaySettings.Get(c.Key)).Select(s =>
            new StoredSettingNow(s.Key, s.Redact(GatewaySettings.AsRead(s, next[s.ConfigurationKey] ?? s.Format(defaults), driver)), GatewaySettings.SourceOf(next, s).ToString().ToLowerInvariant()));
        var notes = hiddenHere.Select(h => $"{GatewaySettings.Describe(h, GatewaySettings.SourceOf(next, h))} sets {h.Key} too and takes precedence over the stored value");
        return new StoredSettingsChanged([.. now], [.. notes, RestartNote]);
    }

    /// <summary>The first key <paramref name="changes"/> forgets that is not among <paramref name="stored"/>, as an error; else null.</summary>
    private static ManagementError? NotStored(IReadOnlyList<KeyValuePair<string, string?>> changes, IEnumerable<string> stored)
    {
        var keys = stored.ToHashSet(StringComparer.Ordinal);
        return changes.FirstOrDefault(c => c.Value is null && !keys.Contains(c.Key)) is { Key: { } missing }
            ? new ManagementError(ManagementErrorKind.NotFound, "", $"{missing} is not stored (config show lists where each setting comes from); nothing was changed")
            : null;
    }

    private static ManagementError Refused(string field, string message) => new(ManagementErrorKind.Validation, field, message);

    /// <summary>Ends a change's write without writing: a key it forgets is no longer stored.</summary>
    private sealed class NotStoredException(ManagementError error) : Exception(error.Message)
    {
        public ManagementError Error { get; } = error;
    }
}
