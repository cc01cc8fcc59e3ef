using ApiGate.Core.Storage;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// The store's persisted quota counters, the seed of a Redis counter that does not exist yet (a new month, or Redis lost
/// its data). One load of every user's counter for the period serves all the seeds asked for within <see cref="MaxAge"/>,
/// so a Redis that comes back empty costs the store one query, not one per user. A request waits for a load at most
/// <see cref="MaxWait"/>, and a failed load is not tried again within <see cref="MaxAge"/>: a store that hangs or is
/// down holds no request for longer than that (it is decided locally instead).
/// </summary>
internal sealed class QuotaSeeds(IQuotaStore store, TimeProvider timeProvider)
{
    /// <summary>How long one load answers seeds (and how long a failed one is not tried again).</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);

    /// <summary>How long a request waits for a load; past it the seed is <see cref="QuotaSeedUnavailableException"/>.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromMilliseconds(500);

    private readonly Lock _lock = new();
    private Loaded? _current;

    /// <summary>The user's stored units in the period starting at <paramref name="period"/> (0 when none are stored).</summary>
    /// <exception cref="QuotaSeedUnavailableException">The store did not answer within <see cref="MaxWait"/>, or failed.</exception>
    public async Task<long> GetAsync(string userId, DateTimeOffset period, CancellationToken cancellationToken) =>
        (await GetAllAsync(period, cancellationToken)).GetValueOrDefault(userId);

    /// <summary>Every user's stored units in the period starting at <paramref name="period"/>.</summary>
    /// <exception cref="QuotaSeedUnavailableException">The store did not answer within <see cref="MaxWait"/>, or failed.</exception>
    public async Task<IReadOnlyDictionary<string, long>> GetAllAsync(DateTimeOffset period, CancellationToken cancellationToken)
    {
        Task<Dictionary<string, long>> load;
        TimeSpan wait;
        lock (_lock)
        {
            var now = timeProvider.GetUtcNow();
            // A load still pending is not replaced (a hanging store gets one query at a time, not one per request).
            if (_current is not { } current || current.Period != period || now - current.At > MaxAge && current.Load.IsCompleted)
            {
                _current = current = new Loaded(period, now, LoadAsync(period, CancellationToken.None));
            }

            load = current.Load;
            wait = MaxWait - (now - current.At); // a load already pending that long is not waited for again
        }

        try
        {
            if (load.IsCompleted)
            {
                return await load;
            }

            return await load.WaitAsync(wait > TimeSpan.Zero ? wait : TimeSpan.Zero, timeProvider, cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            throw new QuotaSeedUnavailableException(ex is TimeoutException
                ? $"the store did not answer within {MaxWait.TotalMilliseconds:0} ms"
                : $"the store failed: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// Every user's stored units in the period, read now (neither taken from nor kept for the seeds) and waited for as
    /// long as the store takes: for a background reader that needs a read sent after a given moment.
    /// </summary>
    public Task<Dictionary<string, long>> ReadAsync(DateTimeOffset period, CancellationToken cancellationToken) => LoadAsync(period, cancellationToken);

    /// <summary>
    /// Drops what was loaded: the next seed reads the store again. For when Redis comes back: a load made before or
    /// during the outage lacks the units counted meanwhile, however young it is.
    /// </summary>
    public void Forget()
    {
        lock (_lock)
        {
            _current = null;
        }
    }

    private async Task<Dictionary<string, long>> LoadAsync(DateTimeOffset period, CancellationToken cancellationToken)
    {
        var usage = await store.LoadQuotaUsageAsync(period, cancellationToken);
        var byUser = new Dictionary<string, long>(usage.Count, StringComparer.Ordinal);
        foreach (var u in usage)
        {
            byUser[u.UserId] = byUser.GetValueOrDefault(u.UserId) + u.Used;
        }

        return byUser;
    }

    private sealed record Loaded(DateTimeOffset Period, DateTimeOffset At, Task<Dictionary<string, long>> Load);
}

/// <summary>The stored quota counters could not be read in time to seed Redis; the request is decided locally.</summary>
internal sealed class QuotaSeedUnavailableException(string message, Exception inner) : Exception(message, inner);
