namespace ApiGate.Core.Management;

/// <summary>
/// A change to the settings kept in the store (the admin API's <c>PATCH /settings/stored</c>): values to keep and keys
/// to forget, made together or not at all.
/// </summary>
public sealed record StoredSettingsInput
{
    /// <summary>Settings to keep, as <c>key=value</c> (<c>log.level=debug</c>); the API also takes <c>{"log.level": "debug"}</c>.</summary>
    public IReadOnlyList<string>? Set { get; init; }

    /// <summary>Dotted keys of stored settings to forget (<c>server.port</c>).</summary>
    public IReadOnlyList<string>? Unset { get; init; }
}
