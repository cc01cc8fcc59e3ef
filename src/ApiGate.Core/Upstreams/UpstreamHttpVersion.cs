namespace ApiGate.Core.Upstreams;

/// <summary>
/// The HTTP version the gateway speaks to an upstream's targets, whatever the client spoke to the gateway.
/// On the wire (CLI, admin API, store) it is <c>"1.1"</c> or <c>"2"</c> (<see cref="UpstreamHttpVersionConverter"/>).
/// </summary>
public enum UpstreamHttpVersion
{
    /// <summary>HTTP/1.1 (the default): over TLS the upstream may answer with an older version.</summary>
    Http11,

    /// <summary>
    /// HTTP/2 only: prior-knowledge cleartext HTTP/2 (h2c) to <c>http://</c> targets, HTTP/2 negotiated by ALPN to
    /// <c>https://</c> targets. A target that cannot speak HTTP/2 fails the request (502), it is never downgraded.
    /// </summary>
    Http2,
}
