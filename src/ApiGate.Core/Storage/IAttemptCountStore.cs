namespace ApiGate.Core.Storage;

/// <summary>
/// A count in a window that starts at the first count: <paramref name="Count"/> events since <paramref name="WindowStart"/>.
/// </summary>
public readonly record struct AttemptCount(int Count, DateTimeOffset WindowStart)
{
    /// <summary>
    /// The pure rule: with <paramref name="state"/> (null: nothing on record), is another attempt refused at
    /// <paramref name="now"/>, and for how long? Refused once <paramref name="limit"/> counts fall in one window that
    /// started at the first of them; the window ending clears the count.
    /// </summary>
    public static TimeSpan? RetryAfter(AttemptCount? state, int limit, TimeSpan window, DateTimeOffset now) =>
        state is { } s && now - s.WindowStart < window && s.Count >= limit ? s.WindowStart + window - now : null;
}

/// <summary>
/// Counts of attempts per key (failed logins per account or address, emails per recipient), kept in the store so that
/// every instance sharing it counts together: N instances behind a load balancer allow what one would.
/// </summary>
public interface IAttemptCountStore
{
    /// <summary>The count on record for <paramref name="key"/>, or null.</summary>
    Task<AttemptCount?> GetAttemptCountAsync(string key, CancellationToken cancellationToken);

    /// <summary>
    /// Adds one for <paramref name="key"/> at <paramref name="now"/>, in one statement (concurrent adds all count):
    /// into the window that started at the key's first count if that is younger than <paramref name="window"/>, else
    /// into a new window starting now. Returns the count after the add.
    /// </summary>
    Task<AttemptCount> AddAttemptAsync(string key, DateTimeOffset now, TimeSpan window, CancellationToken cancellationToken);

    /// <summary>Forgets <paramref name="key"/>'s count.</summary>
    Task RemoveAttemptCountAsync(string key, CancellationToken cancellationToken);

    /// <summary>Takes back one count of <paramref name="key"/> (never below zero): an attempt counted up front that turned out to succeed.</summary>
    Task RefundAttemptAsync(string key, CancellationToken cancellationToken);

    /// <summary>Forgets every count whose window started before <paramref name="before"/>; returns how many.</summary>
    Task<int> DeleteAttemptCountsBeforeAsync(DateTimeOffset before, CancellationToken cancellationToken);
}
