using Microsoft.AspNetCore.Http.Features;

namespace ApiGate.Gateway.Metering;

/// <summary>Wraps the server's upgrade feature so an HTTP/1.1 upgraded (WebSocket) connection is counted as it is tunnelled.</summary>
/// <param name="clientGone">Whether the client's connection is known to be gone (<see cref="ClientConnection.Gone"/>).</param>
internal sealed class CountingUpgradeFeature(IHttpUpgradeFeature inner, Func<bool> clientGone) : IHttpUpgradeFeature
{
    public WebSocketCountingStream? Stream { get; private set; }

    public bool IsUpgradableRequest => inner.IsUpgradableRequest;

    public async Task<Stream> UpgradeAsync()
    {
        Stream = new WebSocketCountingStream(await inner.UpgradeAsync(), clientGone);
        return Stream;
    }
}

/// <summary>
/// The same for a WebSocket over HTTP/2 (RFC 8441 extended CONNECT): the accepted stream carries the same RFC 6455
/// frames, so it is counted the same way — without this such a session would be metered as 0 bytes and 0 messages.
/// </summary>
/// <param name="clientGone">Whether the client's stream is known to be gone (<see cref="ClientConnection.Gone"/>).</param>
internal sealed class CountingExtendedConnectFeature(IHttpExtendedConnectFeature inner, Func<bool> clientGone) : IHttpExtendedConnectFeature
{
    public WebSocketCountingStream? Stream { get; private set; }

    public bool IsExtendedConnect => inner.IsExtendedConnect;

    public string? Protocol => inner.Protocol;

    public async ValueTask<Stream> AcceptAsync()
    {
        Stream = new WebSocketCountingStream(await inner.AcceptAsync(), clientGone);
        return Stream;
    }
}
