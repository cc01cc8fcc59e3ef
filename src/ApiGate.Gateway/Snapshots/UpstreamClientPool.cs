using System.Collections.Concurrent;
using System.Net;
using ApiGate.Core.Upstreams;
using ApiGate.Gateway.UpstreamHttp;

namespace ApiGate.Gateway.Snapshots;

/// <summary>
/// One <see cref="HttpMessageInvoker"/> (and so one connection pool) per upstream, kept across config snapshots while
/// the upstream's connection settings are unchanged, so a reload does not drop warm connections. Clients no longer
/// used by the current snapshot are disposed after a grace period that lets in-flight requests finish.
/// </summary>
internal sealed class UpstreamClientPool : IDisposable
{
    private static readonly TimeSpan RetireDelay = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan MaxConnectTimeout = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<ClientKey, HttpMessageInvoker> _clients = new();
    private readonly TimeProvider _timeProvider;
    private readonly UpstreamTlsTrust _tlsTrust;
    private long _created;

    public UpstreamClientPool(TimeProvider timeProvider, UpstreamTlsTrust tlsTrust)
    {
        _timeProvider = timeProvider;
        _tlsTrust = tlsTrust;
    }

    public HttpMessageInvoker Get(UpstreamDefinition upstream, TimeSpan timeout) =>
        _clients.GetOrAdd(new ClientKey(upstream.Id, upstream.IdleConnTimeoutMs, upstream.MaxConns, timeout, Streaming: false), Create);

    /// <summary>
    /// The client of <c>sse</c> routes on an HTTP/1.1 upstream (<see cref="Http1StreamingHandler"/>: a connection per stream,
    /// no buffer held while idle), or null where the pooled client must serve them too: an HTTP/2 upstream (one connection
    /// already carries many streams) or one with <c>max_conns</c> (the pooled client enforces the cap).
    /// </summary>
    public HttpMessageInvoker? GetStreaming(UpstreamDefinition upstream, TimeSpan timeout) =>
        upstream.HttpVersion != UpstreamHttpVersion.Http11 || upstream.MaxConns > 0
            ? null
            : _clients.GetOrAdd(new ClientKey(upstream.Id, 0, 0, timeout, Streaming: true), Create);

    /// <summary>Schedules disposal of clients whose key is not in <paramref name="inUse"/>.</summary>
    public void RetireAllExcept(IReadOnlySet<HttpMessageInvoker> inUse)
    {
        foreach (var (key, client) in _clients)
        {
            if (!inUse.Contains(client) && _clients.TryRemove(key, out _))
            {
                _ = _timeProvider.CreateTimer(static state => ((HttpMessageInvoker)state!).Dispose(), client, RetireDelay, System.Threading.Timeout.InfiniteTimeSpan);
            }
        }
    }

    public void Dispose()
    {
        foreach (var client in _clients.Values)
        {
            client.Dispose();
        }

        _clients.Clear();
    }

    /// <summary>How many clients this pool has created since start (each a connection pool of its own).</summary>
    public long Created => Interlocked.Read(ref _created);

    private HttpMessageInvoker Create(ClientKey key)
    {
        Interlocked.Increment(ref _created);
        // Half the request timeout (at most 5 s): an unreachable target then leaves time to retry on another one.
        var connectTimeout = key.Timeout / 2 < MaxConnectTimeout ? key.Timeout / 2 : MaxConnectTimeout;
        if (key.Streaming)
        {
            return new HttpMessageInvoker(new Http1StreamingHandler(connectTimeout, _tlsTrust.ChainPolicy()), disposeHandler: true);
        }

        var handler = CreateHandler(connectTimeout);
        handler.PooledConnectionIdleTimeout = TimeSpan.FromMilliseconds(key.IdleConnTimeoutMs);
        handler.MaxConnectionsPerServer = key.MaxConns > 0 ? key.MaxConns : int.MaxValue;
        // The HTTP client caps HTTP/1.1 connections only: with several HTTP/2 connections allowed it opens one more each
        // time the others' streams are all in use, whatever the cap. So with max_conns an HTTP/2 target gets one
        // connection (at most max_conns, as documented) whose streams every request shares, the rest waiting for one.
        handler.EnableMultipleHttp2Connections = key.MaxConns == 0;
        if (key.MaxConns == 0)
        {
            return new HttpMessageInvoker(handler, disposeHandler: true);
        }

        // Requests past that connection's streams wait in this client: the forwarding step needs to know how many it carries.
        var streamLimits = new Http2StreamLimits();
        handler.PlaintextStreamFilter = streamLimits.Filter;
        return new CappedClient(handler, streamLimits);
    }

    /// <summary>
    /// A handler with the connection settings every upstream connection shares (no proxy, no redirects, no
    /// decompression, no cookies, certificates checked against <see cref="UpstreamTlsTrust"/>): the traffic clients
    /// here and the health checks' own clients. One handler serves HTTP/1.1 and HTTP/2 (h2c or ALPN): the version is
    /// chosen per request (<see cref="UpstreamBinding.RequestConfig"/>), so a change of <c>http_version</c> needs no new client.
    /// </summary>
    internal SocketsHttpHandler CreateHandler(TimeSpan connectTimeout)
    {
        var handler = NewHandler(connectTimeout);
        _tlsTrust.Apply(handler);
        return handler;
    }

    private static SocketsHttpHandler NewHandler(TimeSpan connectTimeout) => new()
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        UseCookies = false,
        EnableMultipleHttp2Connections = true,
        ConnectTimeout = connectTimeout,
        // Trace headers are set by the forwarding transformer (the gateway's span when tracing, else the client's as sent).
        ActivityHeadersPropagator = null,
        // Kestrel decodes request header values as UTF-8; sending them as UTF-8 forwards the client's bytes unchanged.
        // Without it the client refuses any non-ASCII value, and that refusal would be taken for a target failure. The
        // selector also marks the attempt as written (one that never was reached no backend and is not billed).
        RequestHeaderEncodingSelector = SentAttempt.MarkSent,
    };

    /// <summary>The client of an upstream with <c>max_conns</c>, with the stream limits its HTTP/2 servers stated.</summary>
    internal sealed class CappedClient(SocketsHttpHandler handler, Http2StreamLimits streamLimits) : HttpMessageInvoker(handler, disposeHandler: true)
    {
        public Http2StreamLimits StreamLimits { get; } = streamLimits;
    }

    private readonly record struct ClientKey(string UpstreamId, int IdleConnTimeoutMs, int MaxConns, TimeSpan Timeout, bool Streaming);
}
