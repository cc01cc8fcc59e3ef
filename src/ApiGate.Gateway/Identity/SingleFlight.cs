using System.Collections.Concurrent;

namespace ApiGate.Gateway.Identity;

/// <summary>
/// One run per key at a time, shared by whoever asks for that key while it runs (a burst of requests with one credential
/// reads the store once). The run is no caller's: it is not cancelled when one stops waiting, and it leaves the table
/// itself when it ends, so later callers join it instead of starting another while it is still going.
/// </summary>
internal sealed class SingleFlight<TKey, TValue>
    where TKey : notnull
{
    private readonly ConcurrentDictionary<TKey, Lazy<Task<TValue>>> _running = new();

    /// <summary>The run for <paramref name="key"/>: the one under way, or <paramref name="run"/> started now.</summary>
    public Task<TValue> Run<TState>(TKey key, TState state, Func<TKey, TState, Task<TValue>> run) =>
        _running.GetOrAdd(key, static (k, s) => new Lazy<Task<TValue>>(() => s.Self.RunThenLeaveAsync(k, s.State, s.Run)), (Self: this, State: state, Run: run))
            .Value;

    private async Task<TValue> RunThenLeaveAsync<TState>(TKey key, TState state, Func<TKey, TState, Task<TValue>> run)
    {
        try
        {
            return await run(key, state);
        }
        finally
        {
            // Only this run's entry can be there: nothing else is added under its key while it is.
            _running.TryRemove(key, out _);
        }
    }
}
