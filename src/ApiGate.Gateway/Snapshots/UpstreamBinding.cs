using System.Net;
using System.Text;
using ApiGate.Core.Routing;
using ApiGate.Core.Upstreams;
using ApiGate.Gateway.Balancing;
using ApiGate.Gateway.UpstreamHttp;
using Yarp.ReverseProxy.Forwarder;

namespace ApiGate.Gateway.Snapshots;

/// <summary>Everything the forwarder needs about one upstream, computed once per snapshot: client, timeouts, credential, targets and how to pick one.</summary>
internal sealed class UpstreamBinding
{
    /// <summary>
    /// How far past the timeout YARP's idle timer is set on an <c>http</c> exchange, whose total bound (the gateway's own
    /// timer) must be the one that fires: the idle timer starts a little later but runs on another timer queue, and
    /// when it won the race a hung response body was answered 502 instead of 504.
    /// </summary>
    internal static readonly TimeSpan HttpIdleMargin = TimeSpan.FromSeconds(5);

    private readonly ForwarderRequestConfig _requestConfig;

    /// <param name="previous">This upstream's binding in the snapshot before, whose balancer's rotation is continued.</param>
    public UpstreamBinding(UpstreamDefinition definition, HttpMessageInvoker client, HttpMessageInvoker? streamClient, TimeSpan defaultTimeout, TargetRegistry registry,
        TimeProvider timeProvider, UpstreamBinding? previous = null)
    {
        Definition = definition;
        Client = client;
        StreamClient = streamClient;
        Http2StreamLimits = (client as UpstreamClientPool.CappedClient)?.StreamLimits;
        Timeout = definition.TimeoutMs is { } ms ? TimeSpan.FromMilliseconds(ms) : defaultTimeout;
        var targets = definition.EffectiveTargets;
        Targets = [.. targets.Select(t => new TargetBinding(t.Url, t.Weight, registry.Get(definition.Id, t.Url, t.Weight)))];
        Health = new TargetHealthPolicy(definition.HealthCheck, targets.Count);
        Balancer = new LoadBalancer(Targets, definition.LbPolicy, definition.HashOn, Health, timeProvider, continueFrom: previous?.Balancer);
        _requestConfig = new ForwarderRequestConfig
        {
            ActivityTimeout = Timeout,
            // 1.1: HTTP/1.1, or lower if a TLS upstream says so. 2: HTTP/2 exactly, prior-knowledge h2c on http:// and
            // ALPN h2 on https://; a target that cannot speak it fails (502) rather than being silently downgraded,
            // since what needs HTTP/2 (gRPC, its trailers) would then break in less obvious ways.
            Version = definition.HttpVersion == UpstreamHttpVersion.Http2 ? HttpVersion.Version20 : HttpVersion.Version11,
            VersionPolicy = definition.HttpVersion == UpstreamHttpVersion.Http2 ? HttpVersionPolicy.RequestVersionExact : HttpVersionPolicy.RequestVersionOrLower,
            AllowResponseBuffering = false,
        };
        HttpRequestConfig = _requestConfig with { ActivityTimeout = Timeout + HttpIdleMargin };

        (AuthHeaderName, AuthHeaderValue) = definition.AuthType switch
        {
            UpstreamAuthType.Bearer => ("Authorization", "Bearer " + definition.AuthValue),
            UpstreamAuthType.Basic => ("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(definition.AuthValue))),
            UpstreamAuthType.Header => (definition.AuthHeader, definition.AuthValue),
            _ => ((string?)null, (string?)null),
        };
        AuthHeaderBackendName = AuthHeaderName?.Replace('_', '-');
    }

    public UpstreamDefinition Definition { get; }

    /// <summary>The upstream's targets in configured order, each with its long-lived state.</summary>
    public TargetBinding[] Targets { get; }

    /// <summary>Picks a target per request (docs/load-balancing.md).</summary>
    public LoadBalancer Balancer { get; }

    /// <summary>Health-check settings in runtime form.</summary>
    public TargetHealthPolicy Health { get; }

    public HttpMessageInvoker Client { get; }

    /// <summary>
    /// The streams each target's one HTTP/2 connection carries, as its server stated; set for an upstream with
    /// <c>max_conns</c> only (<see cref="UpstreamClientPool"/>).
    /// </summary>
    public Http2StreamLimits? Http2StreamLimits { get; }

    /// <summary>The client of <c>sse</c> exchanges, or null when <see cref="Client"/> serves them (<see cref="UpstreamClientPool.GetStreaming"/>).</summary>
    public HttpMessageInvoker? StreamClient { get; }

    /// <summary>Total timeout for <c>http</c>; idle timeout for the streaming protocols.</summary>
    public TimeSpan Timeout { get; }

    public string? AuthHeaderName { get; }

    /// <summary>
    /// <see cref="AuthHeaderName"/> with '_' read as '-', as CGI and WSGI backends read names (<c>X_Secret</c> and
    /// <c>X-Secret</c> are both their <c>HTTP_X_SECRET</c>): a client header of that name is never forwarded beside the credential.
    /// </summary>
    public string? AuthHeaderBackendName { get; }

    /// <summary>Precomputed credential header value. Never logged.</summary>
    public string? AuthHeaderValue { get; }

    /// <summary>For the streaming protocols (<c>sse</c>, <c>ws</c>): YARP's activity timeout is the idle bound, the upstream's timeout.</summary>
    public ForwarderRequestConfig RequestConfig => _requestConfig;

    /// <summary>
    /// For <c>http</c>: the timeout bounds the whole exchange (a timer per request, <see cref="Forwarding.ForwardStep"/>),
    /// so YARP's activity timeout is set past it (<see cref="HttpIdleMargin"/>) and never decides instead.
    /// </summary>
    public ForwarderRequestConfig HttpRequestConfig { get; }
}
