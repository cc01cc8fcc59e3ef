using ApiGate.Core.Storage;

namespace ApiGate.Gateway.Identity;

/// <summary>
/// What a request waits for when its credential (an API key, a JWT's subject) is not in memory and has to be read from
/// the store. A database that hangs — a stopped server, a full connection pool, a lock held for minutes — would otherwise
/// hold every such request for the driver's own timeout (30 s for a command on PostgreSQL). Here a request waits at most
/// <see cref="MaxWait"/>. Once a lookup did not answer by then, or the store said it is unavailable, the store counts as
/// down: uncached credentials are answered <c>503</c> at once, except one request per <see cref="HoldOff"/> whose lookup
/// tries the store again, and the first lookup that succeeds ends it. A lookup a request stopped waiting for goes on by
/// itself (its result is cached when it arrives). Credentials in memory never come here, so callers the gateway has seen
/// are served through the whole outage. One instance per gateway: every credential kind shares the one store.
/// </summary>
internal sealed class StoreLookupGuard(TimeProvider time)
{
    /// <summary>The longest a request waits for a credential's lookup.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(2);

    /// <summary>While the store counts as down, how often one request's lookup tries it again.</summary>
    public static readonly TimeSpan HoldOff = TimeSpan.FromSeconds(1);

    private const long Up = long.MinValue;

    /// <summary>When the store last failed a lookup or was last tried while down (a timestamp); <see cref="Up"/> when it answers.</summary>
    private long _downSince = Up;

    /// <summary>Requests whose lookup failed or ran out of time; for tests and diagnostics.</summary>
    public long Failures;

    /// <summary>
    /// Whether this request may ask the store: always while it answers; while it counts as down, only the first request
    /// <see cref="HoldOff"/> after the last failure or try (the others get 503 without a lookup).
    /// </summary>
    public bool MayAsk()
    {
        var since = Volatile.Read(ref _downSince);
        return since == Up
            || (time.GetElapsedTime(since) >= HoldOff && Interlocked.CompareExchange(ref _downSince, time.GetTimestamp(), since) == since);
    }

    /// <summary>
    /// The lookup's result, or null when it did not complete within <see cref="MaxWait"/> or the store reported itself
    /// unavailable (the store then counts as down). The request's own cancellation (the client went away) is passed through.
    /// </summary>
    public async ValueTask<T?> WaitAsync<T>(Task<T> lookup, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            var result = await lookup.WaitAsync(MaxWait, time, cancellationToken).ConfigureAwait(false);
            if (Volatile.Read(ref _downSince) != Up)
            {
                Volatile.Write(ref _downSince, Up);
            }

            return result;
        }
        catch (Exception ex) when (ex is TimeoutException or StoreUnavailableException)
        {
            if (!lookup.IsCompleted)
            {
                // Nobody may be waiting when it ends: its failure is seen here, not reported as unobserved.
                _ = lookup.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            Interlocked.Increment(ref Failures);
            Volatile.Write(ref _downSince, time.GetTimestamp());
            return null;
        }
    }
}
