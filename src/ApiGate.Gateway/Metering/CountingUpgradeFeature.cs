using Microsoft.AspNetCore.Http.Features;

namespace ApiGate.Gateway.Metering;

/// <summary>Wraps the server's upgrade feature so the upgraded (WebSocket) connection is counted as it is tunnelled.</summary>
internal sealed class CountingUpgradeFeature(IHttpUpgradeFeature inner) : IHttpUpgradeFeature
{
    public WebSocketCountingStream? Stream { get; private set; }

    public bool IsUpgradableRequest => inner.IsUpgradableRequest;

    public async Task<Stream> UpgradeAsync()
    {
        Stream = new WebSocketCountingStream(await inner.UpgradeAsync());
        return Stream;
    }
}
