using System.Net;
using System.Text;
using ApiGate.Core.Routing;
using ApiGate.Core.Upstreams;
using Yarp.ReverseProxy.Forwarder;

namespace ApiGate.Gateway.Snapshots;

/// <summary>Everything the forwarder needs about one upstream, computed once per snapshot.</summary>
internal sealed class UpstreamBinding
{
    private readonly ForwarderRequestConfig _requestConfig;

    public UpstreamBinding(UpstreamDefinition definition, HttpMessageInvoker client, TimeSpan defaultTimeout)
    {
        Definition = definition;
        Client = client;
        Timeout = definition.TimeoutMs is { } ms ? TimeSpan.FromMilliseconds(ms) : defaultTimeout;
        var uri = new Uri(definition.BaseUrl);
        Origin = uri.GetLeftPart(UriPartial.Authority);
        BasePath = uri.AbsolutePath.TrimEnd('/');
        _requestConfig = new ForwarderRequestConfig
        {
            ActivityTimeout = Timeout,
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            AllowResponseBuffering = false,
        };

        (AuthHeaderName, AuthHeaderValue) = definition.AuthType switch
        {
            UpstreamAuthType.Bearer => ("Authorization", "Bearer " + definition.AuthValue),
            UpstreamAuthType.Basic => ("Authorization", "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(definition.AuthValue))),
            UpstreamAuthType.Header => (definition.AuthHeader, definition.AuthValue),
            _ => ((string?)null, (string?)null),
        };
    }

    public UpstreamDefinition Definition { get; }

    public HttpMessageInvoker Client { get; }

    /// <summary>Total timeout for <c>http</c>; idle timeout for the streaming protocols.</summary>
    public TimeSpan Timeout { get; }

    /// <summary><c>scheme://host:port</c>.</summary>
    public string Origin { get; }

    /// <summary>The base URL's path without a trailing slash (<c>/v2</c>), prepended to every forwarded path.</summary>
    public string BasePath { get; }

    public string? AuthHeaderName { get; }

    /// <summary>Precomputed credential header value. Never logged.</summary>
    public string? AuthHeaderValue { get; }

    /// <summary>The same for every protocol: the activity timeout is the idle bound; http's total bound is added per request.</summary>
    public ForwarderRequestConfig RequestConfig => _requestConfig;
}
