using System.Collections.Concurrent;

namespace ApiGate.Web.Admin;

/// <summary>
/// Limits wrong admin-token attempts at the login form per client address: <see cref="MaxFailures"/> failures within
/// <see cref="Window"/> lock the address out until the oldest of them is <see cref="Window"/> old. A success does not
/// reset the count (it would let a guesser interleave a known token).
/// </summary>
internal sealed class LoginThrottle(TimeProvider timeProvider)
{
    /// <summary>Failed attempts allowed per address within <see cref="Window"/>.</summary>
    public const int MaxFailures = 5;

    /// <summary>The period failures are counted over.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(5);

    private const int MaxAddresses = 10_000;

    private readonly ConcurrentDictionary<string, Failures> _byAddress = new(StringComparer.Ordinal);

    /// <summary>How long the address must wait before trying again; zero when it may try now.</summary>
    public TimeSpan RetryAfter(string address)
    {
        if (!_byAddress.TryGetValue(address, out var failures))
        {
            return TimeSpan.Zero;
        }

        lock (failures)
        {
            var now = timeProvider.GetUtcNow();
            failures.Prune(now);
            return failures.Times.Count < MaxFailures ? TimeSpan.Zero : failures.Times.Peek() + Window - now;
        }
    }

    /// <summary>Counts a failed attempt from the address.</summary>
    public void Failed(string address)
    {
        if (_byAddress.Count >= MaxAddresses)
        {
            _byAddress.Clear(); // bounded memory under a spray of addresses; the lockout restarts, the limit per address stays
        }

        var failures = _byAddress.GetOrAdd(address, static _ => new Failures());
        lock (failures)
        {
            var now = timeProvider.GetUtcNow();
            failures.Prune(now);
            failures.Times.Enqueue(now);
        }
    }

    private sealed class Failures
    {
        public Queue<DateTimeOffset> Times { get; } = new();

        public void Prune(DateTimeOffset now)
        {
            while (Times.Count > 0 && now - Times.Peek() >= Window)
            {
                Times.Dequeue();
            }
        }
    }
}
