using System.Net;

namespace ApiGate.Gateway.Proxies;

/// <summary>
/// Set on a request that came through a trusted proxy (<see cref="ClientAddressMiddleware"/>): the connection's own
/// peer, and the verified chain that goes upstream as <c>X-Forwarded-For</c>. Absent on every other request, whose
/// <c>X-Forwarded-For</c> is the peer alone.
/// </summary>
internal sealed class ForwardedClientFeature(IPAddress peer, string forwardedFor)
{
    /// <summary>The proxy the connection came from.</summary>
    public IPAddress Peer { get; } = peer;

    /// <summary>Client first, then each trusted proxy, then <see cref="Peer"/>, comma-separated.</summary>
    public string ForwardedFor { get; } = forwardedFor;
}
