namespace ApiGate.Core.Storage;

/// <summary>
/// A store that can tell running gateways at once that another process changed the configuration (PostgreSQL's
/// <c>LISTEN/NOTIFY</c>), so they reload without waiting for the next version poll. Polling stays the safety net: a
/// signal only makes a reload sooner, and a missed one costs at most a poll interval.
/// </summary>
public interface IConfigChangeSignal
{
    /// <summary>
    /// Listens on a connection of its own until <paramref name="cancellationToken"/> is cancelled or the connection
    /// fails (then it throws; the caller reconnects by calling it again). Calls <paramref name="onChange"/> once when
    /// listening has started (changes made while nobody listened are picked up) and after every notification.
    /// </summary>
    Task ListenAsync(Func<CancellationToken, Task> onChange, CancellationToken cancellationToken);
}
