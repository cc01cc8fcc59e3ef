using ApiGate.Core.Storage;
using ApiGate.Storage.Rows;

namespace ApiGate.Storage.Sql;

/// <summary>Settings kept in the store (<c>apigate config set</c>), beneath the config file, the environment and the flags.</summary>
public abstract partial class SqlGatewayStore
{
    private static readonly RowTable<StoredSettingRow> StoredSettings = new("stored_settings", "name");

    public Task<IReadOnlyList<StoredSetting>> ListStoredSettingsAsync(CancellationToken cancellationToken) =>
        UseAsync((connection, ct) => StoredSettingsAsync(connection, ct), cancellationToken);

    public Task ChangeStoredSettingsAsync(
        IReadOnlyList<KeyValuePair<string, string?>> changes, DateTimeOffset at, CancellationToken cancellationToken,
        Action<IReadOnlyDictionary<string, string>, IReadOnlyDictionary<string, string>>? check = null) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            await LockStoredSettingsAsync(connection, transaction, ct);
            if (check is not null)
            {
                var before = (await QueryAsync<StoredSettingRow>(connection, transaction, StoredSettings.Select(""), null, ct)).ToDictionary(r => r.Name, r => r.Value);
                var after = new Dictionary<string, string>(before);
                foreach (var (key, value) in changes)
                {
                    if (value is null)
                    {
                        after.Remove(key);
                    }
                    else
                    {
                        after[key] = value;
                    }
                }

                check(before, after);
            }

            foreach (var (key, value) in changes)
            {
                await ExecuteAsync(connection, transaction, value is null
                    ? "DELETE FROM stored_settings WHERE name = @Name"
                    : $"{StoredSettings.Insert} ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    ct, new StoredSettingRow { Name = key, Value = value ?? "", UpdatedAt = StoredValues.Time(at) });
            }

            return true;
        }, cancellationToken);

    /// <summary>
    /// Makes changes of the stored settings take turns until the transaction ends. None here: SQLite's writers already
    /// take turns (one write transaction at a time).
    /// </summary>
    private protected virtual Task LockStoredSettingsAsync(System.Data.Common.DbConnection connection, System.Data.Common.DbTransaction transaction, CancellationToken cancellationToken) =>
        Task.CompletedTask;

    /// <summary>
    /// Whether a store is there already (its schema created), asked without creating or migrating anything: a command
    /// that needs an existing store (<c>store copy</c>'s source) refuses an empty database before
    /// <see cref="InitializeAsync"/> would create the schema in it.
    /// </summary>
    public async Task<bool> HoldsStoreAsync(CancellationToken cancellationToken)
    {
        if (!Exists)
        {
            return false;
        }

        try
        {
            await using var connection = await OpenConnectionAtStartAsync(cancellationToken);
            return await FirstValueAsync<bool>(connection, null, TableExistsSql, new { Table = "schema_migrations" }, cancellationToken);
        }
        catch (Exception ex) when (ex is not StoreUnavailableException && TranslateAtStart(ex) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>
    /// The stored settings as a process finds them before it opens the store for its work (they may choose how it
    /// runs): none when there is no store yet or it predates them, without creating or migrating anything.
    /// </summary>
    public async Task<IReadOnlyList<StoredSetting>> ReadStoredSettingsBeforeStartAsync(CancellationToken cancellationToken)
    {
        if (!Exists)
        {
            return [];
        }

        try
        {
            await using var connection = await OpenConnectionAtStartAsync(cancellationToken);
            return await FirstValueAsync<bool>(connection, null, TableExistsSql, new { Table = StoredSettings.Name }, cancellationToken)
                ? await StoredSettingsAsync(connection, cancellationToken)
                : [];
        }
        catch (Exception ex) when (ex is not StoreUnavailableException && TranslateAtStart(ex) is { } translated)
        {
            throw translated;
        }
    }

    /// <summary>
    /// A failure of the first read of the store as the store's exception, as opening it for the command's work would
    /// report it (SQLite: a file that is no database is a store that cannot be opened, naming the file and the setting).
    /// </summary>
    private protected virtual Exception? TranslateAtStart(Exception exception) => Translate(exception);

    /// <summary>A connection opened as a process starts: a server that does not answer is reported at once, naming it (PostgreSQL).</summary>
    private protected virtual Task<System.Data.Common.DbConnection> OpenConnectionAtStartAsync(CancellationToken cancellationToken) => OpenConnectionAsync(cancellationToken);

    /// <summary>False when the store is certainly not there yet (SQLite: no file); reading it would then create it.</summary>
    private protected virtual bool Exists => true;

    /// <summary>A query of one boolean: does table <c>@Table</c> exist?</summary>
    private protected abstract string TableExistsSql { get; }

    private async Task<IReadOnlyList<StoredSetting>> StoredSettingsAsync(System.Data.Common.DbConnection connection, CancellationToken cancellationToken) =>
        (await QueryAsync<StoredSettingRow>(connection, null, StoredSettings.Select(""), null, cancellationToken)).Select(r => r.ToSetting()).ToList();
}
