using Microsoft.Extensions.ObjectPool;

namespace ApiGate.Gateway.Forwarding;

/// <summary>
/// Timeout sources for the <c>http</c> exchange bound, reused across requests: a source that did not fire is reset
/// (<see cref="CancellationTokenSource.TryReset"/>, which also removes every registration made on its token) and kept
/// for the next request, so a request allocates no source, timer or registration list. A source that fired is
/// disposed instead of reused.
/// </summary>
internal sealed class TimeoutSources
{
    private readonly ObjectPool<CancellationTokenSource> _pool;

    public TimeoutSources(int maximumRetained = 1024) =>
        _pool = new DefaultObjectPoolProvider { MaximumRetained = maximumRetained }.Create(new Policy());

    /// <summary>A source that cancels after <paramref name="timeout"/>; give it back with <see cref="Return"/> once the exchange is over.</summary>
    public CancellationTokenSource Rent(TimeSpan timeout)
    {
        var source = _pool.Get();
        source.CancelAfter(timeout);
        return source;
    }

    /// <summary>Takes a source back after the exchange; nothing may use its token afterwards.</summary>
    public void Return(CancellationTokenSource source) => _pool.Return(source);

    private sealed class Policy : IPooledObjectPolicy<CancellationTokenSource>
    {
        public CancellationTokenSource Create() => new();

        // False (the pool then disposes it) when the timeout fired: a cancelled source cannot be reset.
        public bool Return(CancellationTokenSource source) => source.TryReset();
    }
}
