using ApiGate.Core.Storage;
using ApiGate.Storage.Rows;

namespace ApiGate.Storage.Sql;

/// <summary>Attempt counts (failed logins, emails per recipient) shared by every instance on the store.</summary>
public abstract partial class SqlGatewayStore
{
    public Task<AttemptCount?> GetAttemptCountAsync(string key, CancellationToken cancellationToken) =>
        UseAsync(async (connection, ct) =>
        {
            var rows = await QueryAsync<AttemptCountRow>(connection, null, "SELECT attempts, window_start FROM attempt_counts WHERE name = @Key", new { Key = key }, ct);
            return rows.Count > 0 ? rows[0].ToCount() : (AttemptCount?)null;
        }, cancellationToken);

    public Task<AttemptCount> AddAttemptAsync(string key, DateTimeOffset now, TimeSpan window, CancellationToken cancellationToken) =>
        WriteTransactionAsync(async (connection, transaction, ct) =>
        {
            // SET expressions read the row as it was, so both columns decide on the old window start. Times are stored
            // in one fixed-width UTC format, so comparing the text compares the times.
            var rows = await QueryAsync<AttemptCountRow>(connection, transaction, """
                INSERT INTO attempt_counts (name, window_start, attempts) VALUES (@Key, @Now, 1)
                ON CONFLICT (name) DO UPDATE SET
                    attempts = CASE WHEN attempt_counts.window_start > @Floor THEN attempt_counts.attempts + 1 ELSE 1 END,
                    window_start = CASE WHEN attempt_counts.window_start > @Floor THEN attempt_counts.window_start ELSE @Now END
                RETURNING attempts, window_start
                """, new { Key = key, Now = StoredValues.Time(now), Floor = StoredValues.Time(now - window) }, ct);
            return rows[0].ToCount();
        }, cancellationToken);

    public Task RemoveAttemptCountAsync(string key, CancellationToken cancellationToken) =>
        WriteOneAsync("DELETE FROM attempt_counts WHERE name = @Key", cancellationToken, new { Key = key });

    public Task RefundAttemptAsync(string key, CancellationToken cancellationToken) =>
        WriteOneAsync("UPDATE attempt_counts SET attempts = attempts - 1 WHERE name = @Key AND attempts > 0", cancellationToken, new { Key = key });

    public Task<int> DeleteAttemptCountsBeforeAsync(DateTimeOffset before, CancellationToken cancellationToken) =>
        WriteOneAsync("DELETE FROM attempt_counts WHERE window_start < @Before", cancellationToken, new { Before = StoredValues.Time(before) });
}
