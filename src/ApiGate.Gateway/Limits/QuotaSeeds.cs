using ApiGate.Core.Storage;

namespace ApiGate.Gateway.Limits;

/// <summary>
/// The store's persisted quota counters, the seed of a Redis counter that does not exist yet (a new month, or Redis lost
/// its data). One load of every user's counter for the period serves all the seeds asked for within <see cref="MaxAge"/>,
/// so a Redis that comes back empty costs the store one query, not one per user.
/// </summary>
internal sealed class QuotaSeeds(IQuotaStore store, TimeProvider timeProvider)
{
    /// <summary>How long one load answers seeds.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);

    private readonly Lock _lock = new();
    private Loaded? _current;

    /// <summary>The user's stored units in the period starting at <paramref name="period"/> (0 when none are stored).</summary>
    public async Task<long> GetAsync(string userId, DateTimeOffset period, CancellationToken cancellationToken) =>
        (await GetAllAsync(period, cancellationToken)).GetValueOrDefault(userId);

    /// <summary>Every user's stored units in the period starting at <paramref name="period"/>.</summary>
    public async Task<IReadOnlyDictionary<string, long>> GetAllAsync(DateTimeOffset period, CancellationToken cancellationToken)
    {
        Task<Dictionary<string, long>> load;
        lock (_lock)
        {
            var now = timeProvider.GetUtcNow();
            if (_current is not { } current || current.Period != period || now - current.At > MaxAge || current.Load.IsFaulted)
            {
                _current = current = new Loaded(period, now, LoadAsync(period));
            }

            load = current.Load;
        }

        return await load.WaitAsync(cancellationToken);
    }

    private async Task<Dictionary<string, long>> LoadAsync(DateTimeOffset period)
    {
        var usage = await store.LoadQuotaUsageAsync(period, CancellationToken.None);
        var byUser = new Dictionary<string, long>(usage.Count, StringComparer.Ordinal);
        foreach (var u in usage)
        {
            byUser[u.UserId] = byUser.GetValueOrDefault(u.UserId) + u.Used;
        }

        return byUser;
    }

    private sealed record Loaded(DateTimeOffset Period, DateTimeOffset At, Task<Dictionary<string, long>> Load);
}
