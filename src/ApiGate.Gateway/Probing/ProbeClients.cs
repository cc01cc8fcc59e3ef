using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.Snapshots;

namespace ApiGate.Gateway.Probing;

/// <summary>
/// The health checks' own HTTP clients, one per upstream, separate from the traffic client: a probe never waits for
/// one of the <c>max_conns</c> slots that busy traffic holds (it would time out and mark a busy but healthy target
/// unhealthy). No connection cap, short-lived pooled connections, the same connection settings as the traffic client
/// (<see cref="UpstreamClientPool.CreateHandler"/>). Kept while the upstream's probe settings are unchanged; clients
/// the current snapshot no longer uses are disposed after a grace period, the rest when the prober stops.
/// </summary>
internal sealed class ProbeClients(UpstreamClientPool pool, TimeProvider timeProvider) : IDisposable
{
    private static readonly TimeSpan RetireDelay = TimeSpan.FromMinutes(1);
    private static readonly TimeSpan MaxLifetime = TimeSpan.FromMinutes(1);
    private readonly Dictionary<ProbeClientKey, HttpMessageInvoker> _clients = []; // used by the prober's loop only
    private readonly HashSet<HttpMessageInvoker> _seen = new(ReferenceEqualityComparer.Instance);
    private bool _disposed;

    /// <summary>The probe client of <paramref name="upstream"/>, created on first use.</summary>
    public HttpMessageInvoker Get(UpstreamBinding upstream)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var key = new ProbeClientKey(upstream.Definition.Id, upstream.Health.Timeout, upstream.Health.Interval);
        if (!_clients.TryGetValue(key, out var client))
        {
            var handler = pool.CreateHandler(Timeout.InfiniteTimeSpan); // the probe timeout bounds the connect too
            // A connection idle for longer than two intervals is not worth keeping; none lives longer than a minute.
            handler.PooledConnectionIdleTimeout = key.Interval * 2 < MaxLifetime ? key.Interval * 2 : MaxLifetime;
            handler.PooledConnectionLifetime = MaxLifetime;
            client = new HttpMessageInvoker(handler, disposeHandler: true);
            _clients[key] = client;
        }

        _seen.Add(client);
        return client;
    }

    /// <summary>After a pass over the current snapshot: retires the clients it did not ask for.</summary>
    public void RetireUnused()
    {
        foreach (var (key, client) in _clients)
        {
            if (!_seen.Contains(client))
            {
                _clients.Remove(key);
                _ = timeProvider.CreateTimer(static state => ((HttpMessageInvoker)state!).Dispose(), client, RetireDelay, Timeout.InfiniteTimeSpan);
            }
        }

        _seen.Clear();
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }

        _clients.Clear();
    }

    private readonly record struct ProbeClientKey(string UpstreamId, TimeSpan Timeout, TimeSpan Interval);
}
