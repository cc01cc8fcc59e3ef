namespace ApiGate.Core.Storage;

/// <summary>A setting kept in the store (<c>apigate config set</c>): its dotted key, its value as given, and when it was set.</summary>
public sealed record StoredSetting(string Key, string Value, DateTimeOffset UpdatedAt);

/// <summary>
/// Settings kept in the store, the lowest layer above the defaults (flags &gt; environment &gt; config file &gt; stored
/// &gt; defaults): one place for every instance on a shared store to read them from. Read when a process starts; a
/// running gateway applies a change on its next start.
/// </summary>
public interface IStoredSettingStore
{
    /// <summary>Every stored setting, by key.</summary>
    Task<IReadOnlyList<StoredSetting>> ListStoredSettingsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Applies <paramref name="changes"/> in one transaction (all or none): a value is stored under its key, replacing
    /// what was there; a null value forgets the key. Changes take turns: <paramref name="check"/> (when given) sees every
    /// stored setting as it is before this change and as it will be after it, with no other change committing in
    /// between, and throwing from it writes nothing — so two changes made at once cannot together store settings that
    /// each alone would refuse, nor both forget the same key.
    /// </summary>
    Task ChangeStoredSettingsAsync(
        IReadOnlyList<KeyValuePair<string, string?>> changes, DateTimeOffset at, CancellationToken cancellationToken,
        Action<IReadOnlyDictionary<string, string> /* before */, IReadOnlyDictionary<string, string> /* after */>? check = null);
}
